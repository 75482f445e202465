// Batched scaled-orthographic (SOP) camera from 2D-3D correspondences, one camera per frame.
//
// Convention (h2h_engine/fitting/sop.py): u = s*(R X)_x + t_x, v = t_y - s*(R X)_y.
// Per frame: closed form (weighted affine least squares, then the nearest scaled rotation), then a few
// Gauss-Newton steps over (rotation increment, scale, 2D translation) on the weighted pixel residuals.
#pragma once

namespace h2h {

struct SopPoseParams {
  int frames = 0;                  // T: number of frames (cameras)
  int points = 0;                  // N: correspondences per frame
  const double* model = nullptr;   // (T, N, 3) model-space points (row-major)
  const double* pixels = nullptr;  // (T, N, 2) observed pixels: u to the right, v downwards
  const double* weights = nullptr; // (T, N) non-negative per-point weights, or nullptr for all ones
  int iterations = 5;              // Gauss-Newton refinement steps after the closed form (0 = none)
  double* rotation = nullptr;      // out (T, 3, 3) rotation matrices
  double* translation = nullptr;   // out (T, 2) pixel translation (t_x, t_y)
  double* scale = nullptr;         // out (T,) pixels per model unit; 0 marks a degenerate frame
                                   //   (fewer than 3 weighted points): rotation = I, translation = centroid
};

// Solves every frame independently (OpenMP over frames).
void SopPose(const SopPoseParams& p);

}  // namespace h2h
