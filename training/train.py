"""Sequence training of the Head2Head GAN on one target shot (vid2vid-style, as in the authors' code).

Each step generates ``frames_per_step`` consecutive frames of the current training sequence (G's state,
its two previous outputs, is carried between steps), then updates G (LSGAN on D_I, D_M, D_D + feature
matching + VGG19, optional L1) and the discriminators once. Sequences start at random training frames from
a zero state and grow from ``seq_len_start`` to ``seq_len_max`` frames, doubling every ``grow_every_epochs``.
The learning rate decays linearly to 0 over the last ``decay_epochs``.

Multi-process data parallel under ``torchrun`` (see :mod:`h2h_engine.training.distributed`): G and the discriminators
are wrapped in DistributedDataParallel, and every rank trains on its share of each step's sequences.
"""
from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from h2h_engine.errors import CheckpointError, ConfigError
from h2h_engine.io import atomic_path, write_image
from h2h_engine.morphable import load_model_for
from h2h_engine.render.crop import detail_size
from h2h_engine.synthesis.checkpoint import CHECKPOINT, SCHEMA, read_checkpoint
from h2h_engine.synthesis.discriminators import (DynamicsDiscriminator, MultiscaleDiscriminator, dynamics_window,
                                                 image_discriminator, mouth_discriminator)
from h2h_engine.synthesis.generator import make_generator
from h2h_engine.synthesis.inference import pick_device
from h2h_engine.synthesis.losses import feature_matching, lsgan_d, lsgan_g
from h2h_engine.synthesis.vgg import VGG19Features, VGGLoss, find_vgg_weights
from h2h_engine.track import Track

from .config import TrainConfig, dump_config
from .data import ShotData, crop_shot, prepare_data
from .distributed import LossStep, data_parallel, finish_distributed, init_distributed, local_rank, rank_share


@dataclass
class Networks:
    """G, the discriminators (None when disabled) and the frozen VGG loss (None without weights)."""

    g: nn.Module
    d_image: MultiscaleDiscriminator
    d_mouth: MultiscaleDiscriminator | None
    d_dyn: DynamicsDiscriminator | None
    vgg: VGGLoss | None

    def discriminators(self) -> dict[str, nn.Module]:
        return {k: v for k, v in (("image", self.d_image), ("mouth", self.d_mouth), ("dynamics", self.d_dyn))
                if v is not None}


def resolve_vgg(cfg: TrainConfig) -> Path | None:
    """The VGG19 weights file the config asks for (None: train without the VGG term); ConfigError when
    ``require_vgg`` is set and there is none."""
    weights = find_vgg_weights(cfg.vgg_weights or None)
    if weights is None and cfg.require_vgg:
        raise ConfigError("require_vgg is set but no VGG19 weights were found: put torchvision's "
                          f"vgg19-dcbb9e9d.pth in {torch.hub.get_dir()}/checkpoints/ or set vgg_weights")
    return weights


def build_networks(cfg: TrainConfig, device: torch.device, say: Any = print) -> Networks:
    """Networks initialised from ``cfg.seed`` (identical on every rank)."""
    torch.manual_seed(cfg.seed)
    m = cfg.model
    nets = Networks(make_generator(m), image_discriminator(m), mouth_discriminator(m) if m.use_mouth_d else None,
                    DynamicsDiscriminator(m) if m.use_dynamics_d else None, None)
    if cfg.lambda_vgg > 0:
        if cfg.random_vgg:
            nets.vgg = VGGLoss(VGG19Features())
        else:
            weights = resolve_vgg(cfg)
            if weights is None:
                say("h2h train: no VGG19 ImageNet weights (vgg19-dcbb9e9d.pth) found; training without the VGG "
                    "term (set vgg_weights, or require_vgg: true to make this an error)")
            else:
                vgg = VGG19Features()
                vgg.load_weights(weights)
                nets.vgg = VGGLoss(vgg)
    fmt = torch.channels_last if device.type == "cuda" and cfg.channels_last else torch.contiguous_format
    for net in (nets.g, nets.vgg, *nets.discriminators().values()):
        if net is not None:
            net.to(device, memory_format=fmt)
    return nets


def steps_per_epoch(cfg: TrainConfig, n_train: int, world: int) -> int:
    return max(1, math.ceil(n_train / (cfg.frames_per_step * cfg.batch * world)))


def seq_len_at(cfg: TrainConfig, step: int, per_epoch: int, n_train: int) -> int:
    """Training sequence length for a sequence starting at ``step``: a multiple of frames_per_step."""
    n = min(cfg.seq_len_max, cfg.seq_len_start * 2 ** (step // per_epoch // cfg.grow_every_epochs), n_train)
    return max(cfg.frames_per_step, n // cfg.frames_per_step * cfg.frames_per_step)


def lr_at(cfg: TrainConfig, step: int, per_epoch: int) -> float:
    """Constant for ``epochs``, then linear decay to 0 over ``decay_epochs``."""
    decay_start, total = cfg.epochs * per_epoch, (cfg.epochs + cfg.decay_epochs) * per_epoch
    if step < decay_start:
        return cfg.lr
    return cfg.lr * max(0.0, (total - step) / max(1, total - decay_start))


def crop_mouth(x: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, S, S) -> (N, C, size, size) crops centred at ``centres`` (N, 2) x, y (kept inside the frame)."""
    s = x.shape[-1]
    c = (centres - size / 2).round().long().clamp(0, s - size).tolist()
    return torch.stack([x[i, :, y0:y0 + size, x0:x0 + size] for i, (x0, y0) in enumerate(c)])


def _set_requires_grad(modules: dict[str, nn.Module], flag: bool) -> None:
    for m in modules.values():
        for p in m.parameters():
            p.requires_grad_(flag)


class Trainer:
    """One training run in ``run_dir`` (see module docstring). ``rank``/``world`` from torchrun."""

    def __init__(self, cfg: TrainConfig, data: ShotData, run_dir: Path, data_info: dict[str, Any],
                 rank: int = 0, world: int = 1, show_progress: bool = True,
                 progress: Callable[[int, int, str], None] | None = None) -> None:
        self.cfg, self.data, self.run_dir, self.data_info = cfg, data, run_dir, data_info
        self.rank, self.world, self.show_progress = rank, world, show_progress
        self.progress = progress if rank == 0 else None  # progress lines (h2h --progress json|plain), rank 0
        dev = pick_device(cfg.device)
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", local_rank())
        self.device = dev
        self.amp = dev.type == "cuda" and cfg.amp
        self.nets = build_networks(cfg, dev, say=self._say)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.nets.g.parameters(), lr=cfg.lr, betas=betas)
        self.d_params = [p for d in self.nets.discriminators().values() for p in d.parameters()]
        self.opt_d = torch.optim.Adam(self.d_params, lr=cfg.lr, betas=betas)
        # DDP wrappers (the modules themselves in one process). G's step calls the discriminators unwrapped
        # (frozen); their own step is one forward of all of them, where D_D's long temporal scales may not fit
        # the sequence yet (unused parameters).
        self.g = data_parallel(self.nets.g, world, dev)
        self.d_step = data_parallel(LossStep(self.nets.discriminators(), self._d_losses), world, dev,
                                    find_unused=self.nets.d_dyn is not None)
        self.per_epoch = steps_per_epoch(cfg, data.n_train, world)
        self.total_steps = (cfg.epochs + cfg.decay_epochs) * self.per_epoch
        self.l1_steps = round(cfg.l1_fraction * self.total_steps)  # steps of L1 alone before the adversarial terms
        self.step = 0
        self.seq_index = -1
        self.seq_len = 0
        self.pos = 0
        self.global_starts = np.zeros(cfg.batch * world, np.int64)  # every rank's sequences, interleaved
        self.starts = np.zeros(cfg.batch, np.int64)  # this rank's share
        self.fakes = torch.zeros(cfg.batch, 0, 3, cfg.model.size, cfg.model.size, device=dev)  # (B, pos, 3, S, S)

    # -- helpers ------------------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        if self.rank == 0:
            print(text, file=sys.stderr)

    def _autocast(self) -> Any:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def _new_sequence(self) -> None:
        self.seq_index += 1
        self.seq_len = seq_len_at(self.cfg, self.step, self.per_epoch, self.data.n_train)
        # one stream for the global batch (its key is what single-process runs always used)
        rng = np.random.default_rng([self.cfg.seed, 0, self.seq_index])
        self.global_starts = rng.integers(0, self.data.n_train - self.seq_len + 1, size=self.cfg.batch * self.world)
        self.starts = rank_share(self.global_starts, self.rank, self.world)
        self.fakes = self.fakes[:, :0]
        self.pos = 0

    # -- one step -----------------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """Generate the next ``frames_per_step`` frames of the current sequence; update G, then the Ds."""
        cfg, m, nets = self.cfg, self.cfg.model, self.nets
        if self.pos == 0:
            self._new_sequence()
        p, pos, b = cfg.frames_per_step, self.pos, cfg.batch
        lr = lr_at(cfg, self.step, self.per_epoch)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        batch = self.data.batch(self.starts, pos + p, m.n_cond_frames, self.device)
        n_prev = m.n_prev_frames
        hist = self.fakes
        prev = torch.zeros(b, n_prev, 3, m.size, m.size, device=self.device)
        k = min(n_prev, pos)
        if k:
            prev[:, n_prev - k:] = hist[:, pos - k:]
        prev = prev.reshape(b, 3 * n_prev, m.size, m.size)
        adversarial = self.step >= self.l1_steps  # before: L1 alone, no discriminator runs
        dis = nets.discriminators()
        _set_requires_grad(dis, False)
        with self._autocast():
            outs = []
            for j in range(p):
                y = self.g(batch["cond_in"][:, pos + j], prev)
                outs.append(y)
                if n_prev:
                    prev = torch.cat([prev[:, 3:], y], dim=1)
            real_seq = batch["real"][:, pos:pos + p]
            matte = batch["matte"][:, pos:pos + p]
            # face region: only the matte is regenerated, the plate is kept around it (what a user gets)
            fake_seq = real_seq + (torch.stack(outs, dim=1) - real_seq) * matte  # (B, P, 3, S, S)
            fake = fake_seq.flatten(0, 1)
            real = real_seq.flatten(0, 1)
            cond = batch["cond"][:, pos:].flatten(0, 1)
            mouth = batch["mouth"][:, pos:].flatten(0, 1)  # (B*P, 2)
            losses = self._g_losses(fake, real, cond, mouth, batch, torch.cat([hist, fake_seq], dim=1),
                                    matte.flatten(0, 1), adversarial)
            loss_g = (cfg.lambda_gan * losses["g_gan"] + cfg.lambda_fm * losses["g_fm"] + cfg.lambda_vgg * losses["g_vgg"]
                      + cfg.lambda_l1 * losses["g_l1"]
                      + cfg.lambda_mouth * (losses["g_mouth_gan"] + cfg.lambda_fm * losses["g_mouth_fm"])
                      + cfg.lambda_dynamics * losses["g_dyn_gan"])
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()  # DDP averages G's gradients over the ranks
        self.opt_g.step()

        _set_requires_grad(dis, True)
        fake_seq = fake_seq.detach()
        if adversarial:
            with self._autocast():
                d_losses = self.d_step(fake_seq.flatten(0, 1), real, cond, mouth, batch,
                                       torch.cat([hist, fake_seq], dim=1))
                loss_d = sum(d_losses.values())
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        else:
            d_losses, loss_d = {}, torch.zeros(())

        self.fakes = torch.cat([hist, fake_seq.float()], dim=1)
        self.pos = pos + p if pos + p < self.seq_len else 0
        self.step += 1
        self._last = (batch, fake_seq, pos)
        out = {k: v.detach().item() for k, v in {**losses, **d_losses}.items()}
        out.update(loss_g=loss_g.detach().item(), loss_d=loss_d.detach().item(), lr=lr, seq_len=self.seq_len)
        return out

    def _dyn_windows(self, seq: torch.Tensor, flow: torch.Tensor) -> list[tuple[int, torch.Tensor]]:
        """(scale, D_D input) for every temporal scale whose window fits the sequence so far (ending now)."""
        d = self.nets.d_dyn
        if d is None:
            return []
        n = seq.shape[1]
        return [(s, dynamics_window(seq, flow, n - 1, d.k, d.stride(s))) for s in range(len(d.temporal))
                if d.span(s) <= n]

    def _g_losses(self, fake: torch.Tensor, real: torch.Tensor, cond: torch.Tensor, mouth: torch.Tensor,
                  batch: dict[str, torch.Tensor], fake_seq: torch.Tensor,
                  matte: torch.Tensor, adversarial: bool = True) -> dict[str, torch.Tensor]:
        """G's loss terms on this step's frames: fake/real (N, 3, S, S), cond (N, 6, S, S), mouth (N, 2);
        ``fake_seq`` (B, n, 3, S, S) the sequence so far for D_D; ``matte`` (N, 1, S, S) the regenerated
        region (the L1 term is its mean inside it); ``adversarial`` False: the L1 term alone (the rest 0)."""
        nets, m = self.nets, self.cfg.model
        zero = torch.zeros((), device=self.device)
        out = {"g_gan": zero, "g_fm": zero, "g_vgg": zero,
               "g_l1": ((fake - real).abs() * matte).sum() / (3 * matte.sum()).clamp(min=1.0),
               "g_mouth_gan": zero, "g_mouth_fm": zero, "g_dyn_gan": zero}
        if not adversarial:
            return out
        pf = nets.d_image(torch.cat([cond, fake], 1))
        pr = nets.d_image(torch.cat([cond, real], 1))
        out.update(g_gan=lsgan_g(pf), g_fm=feature_matching(pr, pf))
        if nets.vgg is not None:
            out["g_vgg"] = nets.vgg(fake, real)
        if nets.d_mouth is not None:
            c, crop = mouth, m.mouth_crop
            pf = nets.d_mouth(torch.cat([crop_mouth(cond, c, crop), crop_mouth(fake, c, crop)], 1))
            pr = nets.d_mouth(torch.cat([crop_mouth(cond, c, crop), crop_mouth(real, c, crop)], 1))
            out["g_mouth_gan"], out["g_mouth_fm"] = lsgan_g(pf), feature_matching(pr, pf)
        flow = batch["flow"]
        for s, x in self._dyn_windows(fake_seq, flow):
            out["g_dyn_gan"] = out["g_dyn_gan"] + lsgan_g(nets.d_dyn(x, s))
        return out

    def _d_losses(self, fake: torch.Tensor, real: torch.Tensor, cond: torch.Tensor, mouth: torch.Tensor,
                  batch: dict[str, torch.Tensor], fake_seq: torch.Tensor) -> dict[str, torch.Tensor]:
        """The discriminators' LSGAN losses on detached fakes (same arguments as :meth:`_g_losses`)."""
        nets, m = self.nets, self.cfg.model
        r, f = lsgan_d(nets.d_image(torch.cat([cond, real], 1)), nets.d_image(torch.cat([cond, fake], 1)))
        out = {"d_real": 0.5 * r, "d_fake": 0.5 * f}
        if nets.d_mouth is not None:
            c = mouth
            cc = crop_mouth(cond, c, m.mouth_crop)
            r, f = lsgan_d(nets.d_mouth(torch.cat([cc, crop_mouth(real, c, m.mouth_crop)], 1)),
                           nets.d_mouth(torch.cat([cc, crop_mouth(fake, c, m.mouth_crop)], 1)))
            out["d_mouth"] = 0.5 * self.cfg.lambda_mouth * (r + f)
        if nets.d_dyn is not None:
            real_seq = batch["real"]
            total = torch.zeros((), device=self.device)
            for (s, xf), (_, xr) in zip(self._dyn_windows(fake_seq, batch["flow"]),
                                        self._dyn_windows(real_seq, batch["flow"])):
                r, f = lsgan_d(nets.d_dyn(xr, s), nets.d_dyn(xf, s))
                total = total + 0.5 * (r + f)
            out["d_dyn"] = self.cfg.lambda_dynamics * total
        return out

    # -- state --------------------------------------------------------------------------------------------
    def _gather_fakes(self) -> torch.Tensor:
        """Every rank's carried frames, (world, B, pos, 3, S, S) on CPU (collective call)."""
        mine = self.fakes.detach().float().cpu() if self.device.type == "cpu" else self.fakes.detach().float()
        if self.world == 1:
            return mine[None].cpu()
        parts = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(parts, mine.contiguous())
        return torch.stack(parts).cpu()

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint dict (see :mod:`h2h_engine.synthesis.checkpoint`)."""
        return {
            "schema": SCHEMA,
            "model_config": self.cfg.model.to_dict(),
            "generator": self.nets.g.state_dict(),
            "data": dict(self.data_info),
            "step": self.step,
            "config": self.cfg.to_dict(),
            "discriminators": {k: v.state_dict() for k, v in self.nets.discriminators().items()},
            "optimizer_g": self.opt_g.state_dict(),
            "optimizer_d": self.opt_d.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
            "carry": {"seq_index": self.seq_index, "seq_len": self.seq_len, "pos": self.pos,
                      "world": self.world, "starts": torch.from_numpy(self.global_starts.copy()),
                      "fakes": self._gather_fakes()},
        }

    def _check_ranks_agree(self) -> None:
        """Under torchrun, every rank must hold the same weights (DDP averages gradients); fail loudly if not."""
        if self.world == 1:
            return
        params = [self.nets.g, *self.nets.discriminators().values()]
        mine = torch.stack([torch.stack([p.detach().double().sum() for p in m.parameters()]).sum() for m in params])
        parts = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(parts, mine)
        if any(not torch.equal(parts[0], p) for p in parts[1:]):
            raise RuntimeError("data-parallel ranks hold different weights (DDP gradient averaging failed)")

    def save(self) -> Path:
        """Write ``RUN_DIR/checkpoint.pt`` atomically (rank 0; a collective call under torchrun)."""
        self._check_ranks_agree()
        state = self.state_dict()
        path = self.run_dir / CHECKPOINT
        if self.rank == 0:
            with atomic_path(path) as tmp:
                torch.save(state, tmp)
        return path

    def load(self, path: Path) -> None:
        """Continue from a checkpoint of the same model config; CheckpointError otherwise."""
        ckpt = read_checkpoint(path)
        if ckpt["model_config"] != self.cfg.model.to_dict():
            diff = [f"{k}: {ckpt['model_config'].get(k)!r} vs {v!r}" for k, v in self.cfg.model.to_dict().items()
                    if ckpt["model_config"].get(k) != v]
            raise CheckpointError(f"{path} was trained with another model config ({'; '.join(diff[:3])}); "
                                  "resume with the run's own config or start a new run dir")
        try:
            self.nets.g.load_state_dict(ckpt["generator"])
            for k, d in self.nets.discriminators().items():
                d.load_state_dict(ckpt["discriminators"][k])
            self.opt_g.load_state_dict(ckpt["optimizer_g"])
            self.opt_d.load_state_dict(ckpt["optimizer_d"])
            carry = ckpt["carry"]
            torch.set_rng_state(ckpt["rng"]["torch"])
            random.setstate(ckpt["rng"]["python"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"{path} cannot be resumed: {str(e).splitlines()[0][:160]}") from None
        self.step = int(ckpt["step"])
        self.seq_index, self.seq_len, self.pos = int(carry["seq_index"]), int(carry["seq_len"]), int(carry["pos"])
        self.global_starts = carry["starts"].numpy().copy()
        if int(carry["world"]) == self.world:
            if len(self.global_starts) != self.cfg.batch * self.world:
                raise CheckpointError(f"{path} carries {len(self.global_starts)} sequence starts, not {self.world} "
                                      f"x {self.cfg.batch} (an older multi-process run): resume it with another "
                                      "number of processes (its sequences restart) or start a new run dir")
            self.starts = rank_share(self.global_starts, self.rank, self.world)
            self.fakes = carry["fakes"][self.rank].to(self.device)
        else:  # another number of processes: start fresh sequences
            self._say(f"h2h train: resumed with {self.world} processes (checkpoint had {carry['world']}); "
                      "training sequences restart")
            self.pos = 0

    # -- outputs ------------------------------------------------------------------------------------------
    def write_samples(self) -> Path | None:
        """PNG grid of the last step's frames: conditioning | generated | real, one row per frame (rank 0)."""
        if self.rank != 0 or not hasattr(self, "_last"):
            return None
        batch, fake_seq, pos = self._last
        p = fake_seq.shape[1]
        cond = batch["cond"][0, pos:pos + p].float()  # (P, 6, S, S)
        viz = (cond[:, :3] + cond[:, 3:]).clamp(0, 1)
        fake = (fake_seq[0].float() + 1) / 2
        real = (batch["real"][0, pos:pos + p].float() + 1) / 2
        rows = torch.cat([viz, fake.clamp(0, 1), real], dim=3)  # (P, 3, S, 3S)
        grid = rows.permute(0, 2, 3, 1).reshape(-1, rows.shape[3], 3)
        path = self.run_dir / "samples" / f"step-{self.step:07d}.png"
        write_image(path, (grid.cpu().numpy() * 255 + 0.5).astype(np.uint8))
        return path

    def fit(self, stop_after: int | None = None, time_budget: float | None = None) -> Path:
        """Train to the end (or for ``stop_after`` more steps, or until ``time_budget`` seconds have passed);
        checkpoints, samples and the loss log (with ``time_s`` since the start) as configured. Returns the
        checkpoint path. ``time_budget`` is for single-process runs (ranks would stop at different steps)."""
        from tqdm import tqdm  # noqa: PLC0415

        cfg = self.cfg
        end = self.total_steps if stop_after is None else min(self.total_steps, self.step + stop_after)
        bar = tqdm(total=self.total_steps, initial=self.step, unit="step", dynamic_ncols=True,
                   disable=not self.show_progress or self.rank != 0, desc="train")
        log_path = self.run_dir / "log.jsonl"
        self.nets.g.train()
        for d in self.nets.discriminators().values():
            d.train()
        t0 = time.monotonic()
        while self.step < end and (time_budget is None or time.monotonic() - t0 < time_budget):
            losses = self.train_step()
            bar.update(1)
            bar.set_postfix(g=f"{losses['loss_g']:.3f}", d=f"{losses['loss_d']:.3f}", refresh=False)
            if self.progress is not None:
                self.progress(self.step, self.total_steps, "train")
            if self.rank == 0 and (self.step % cfg.log_every == 0 or self.step == end):
                with open(log_path, "a") as f:
                    f.write(json.dumps({"step": self.step, "epoch": round(self.step / self.per_epoch, 3),
                                        "time_s": round(time.monotonic() - t0, 3), **losses})
                            + "\n")
            if self.step % cfg.sample_every == 0 or self.step == self.total_steps:
                self.write_samples()
            if self.step % cfg.checkpoint_every == 0 or self.step == end:
                self.save()
        if self.step < end and self.step % cfg.checkpoint_every:  # stopped by the time budget
            self.save()
        bar.close()
        return self.run_dir / CHECKPOINT


def _truncate_log(path: Path, step: int) -> None:
    """Drop loss records past ``step`` (written after the checkpoint a resumed run restarts from)."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in keep))


BANK = "bank"


def _write_bank(run_dir: Path, track: Track, data: ShotData, video: str | Path, record: dict[str, Any]) -> None:
    """Store what inference needs to rebuild the appearance inputs: ``RUN_DIR/bank/`` holds the training
    crops and their track, and (``record["bank_detail"]``) the same crops at the plate's own pixel density,
    cut from ``video`` again."""
    folder = run_dir / BANK
    folder.mkdir(parents=True, exist_ok=True)
    bank = track.slice(int(data.frames[0]), int(data.frames[data.n_train - 1]))
    bank.save(folder / "bank.h2h.npz")
    with atomic_path(folder / "images.npy") as tmp:
        np.save(tmp, np.asarray(data.images[:data.n_train]))
    if "bank_detail" in record:
        side = record["detail_size"]
        with atomic_path(run_dir / record["bank_detail"]) as tmp:
            out = np.lib.format.open_memmap(tmp, "w+", np.uint8, (len(bank), side, side, 3))
            crop_shot(Path(video), bank, np.asarray(data.crop_box, np.float32), out)
            out.flush()
            del out


def _bank_record(cfg: TrainConfig, data: ShotData) -> dict[str, Any]:
    """The checkpoint's ``appearance`` record: the bank (paths relative to the run dir; a plate-resolution copy
    when the crop box is larger than the model's size in source pixels) and the retrieval and matte settings
    inference must repeat."""
    record: dict[str, Any] = {"bank_images": f"{BANK}/images.npy", "bank_track": f"{BANK}/bank.h2h.npz"}
    side = detail_size(data.crop_box, cfg.model.size, cfg.data.detail_max)
    if side > cfg.model.size:
        record.update(bank_detail=f"{BANK}/detail.npy", detail_size=side)
    return {**record, **cfg.data.appearance(data.retrieval_scale).record()}


def train(target: str | Path, track: str | Path, run_dir: str | Path, cfg: TrainConfig, resume: bool = False,
          stop_after: int | None = None, show_progress: bool = True, time_budget: float | None = None,
          progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Train (or resume) a run; returns the checkpoint path. Under ``torchrun`` every rank calls this.

    The run dir gets ``config.yaml`` and ``run.json`` (inputs) before step 0, ``cache/`` (conditioning),
    ``log.jsonl`` (losses), ``samples/*.png`` and ``checkpoint.pt``. ``progress(step, total_steps, "train")``
    is called after every step (rank 0), beside or instead of the bar (``show_progress``).
    """
    if cfg.lambda_vgg > 0 and not cfg.random_vgg:
        resolve_vgg(cfg)  # fail before the data is prepared
    rank, world = init_distributed(pick_device(cfg.device).type == "cuda")
    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT
    if ckpt_path.exists() and not resume:
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it or choose a new -o")
    if resume and not ckpt_path.exists():
        raise CheckpointError(f"nothing to resume: {ckpt_path} does not exist")
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not (resume and (run_dir / "config.yaml").is_file()):  # a resume keeps the run's record (config.run_config)
            with atomic_path(run_dir / "config.yaml") as tmp:
                tmp.write_text(dump_config(cfg))
        with atomic_path(run_dir / "run.json") as tmp:
            tmp.write_text(json.dumps({"target": str(Path(target).resolve()), "track": str(Path(track).resolve()),
                                       "world_size": world}, indent=2))
    shot = Track.load(track)  # read once: the data, the model record and the bank all come from it
    if rank == 0:
        data = prepare_data(target, track, cfg, run_dir / "cache", track=shot)
    if world > 1:
        dist.barrier()
    if rank != 0:
        data = prepare_data(target, track, cfg, run_dir / "cache", track=shot)
    model = load_model_for(shot)  # what the checkpoint records; prepare_data checked it
    info = {"crop_margin": cfg.data.crop_margin, "crop_smooth": cfg.data.crop_smooth,
            "morphable_name": model.name, "morphable_digest": model.digest,
            "crop_box": [float(v) for v in data.crop_box], "n_train": data.n_train, "n_frames": len(data)}
    if data.appearance or cfg.model.region == "face":
        record = info["appearance"] = _bank_record(cfg, data)
        files = [record[k] for k in ("bank_images", "bank_detail") if k in record]
        if rank == 0 and not (resume and all((run_dir / f).is_file() for f in files)):
            _write_bank(run_dir, shot, data, target, record)
    if cfg.model.arch == "none":  # the instant preset: nothing to train, the checkpoint says how to composite
        if rank == 0 and not resume:
            with atomic_path(ckpt_path) as tmp:
                torch.save({"schema": SCHEMA, "model_config": cfg.model.to_dict(), "generator": {}, "data": info,
                            "step": 0, "config": cfg.to_dict()}, tmp)
        finish_distributed()
        return ckpt_path
    trainer = Trainer(cfg, data, run_dir, info, rank=rank, world=world, show_progress=show_progress,
                      progress=progress)
    if resume:
        trainer.load(ckpt_path)
        if rank == 0:
            _truncate_log(run_dir / "log.jsonl", trainer.step)
    ckpt = trainer.fit(stop_after, time_budget)
    finish_distributed()
    return ckpt
