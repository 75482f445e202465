// Bindings of the fitting kernels: SOP cameras and the bounded batch shape solver.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <utility>
#include <optional>

#include "common/check.h"
#include "common/shape_solve.h"
#include "common/sop_pose.h"

namespace py = pybind11;
using DArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IArray = py::array_t<int, py::array::c_style | py::array::forcecast>;

namespace {

py::tuple SopPoseBinding(DArray model, DArray pixels, std::optional<DArray> weights, int iterations) {
  const char* fn = "sop_pose";
  H2H_CHECK_SHAPE(model, fn, "model", "(T, N, 3)", -1, -1, 3);
  const long t = model.shape(0), n = model.shape(1);
  H2H_CHECK_SHAPE(pixels, fn, "pixels", "(T, N, 2) matching model", t, n, 2);
  if (weights) H2H_CHECK_SHAPE(*weights, fn, "weights", "(T, N) matching model", t, n);
  H2H_CHECK(iterations >= 0, fn, "iterations must be >= 0");
  DArray rotation({t, 3L, 3L}), translation({t, 2L}), scale({t});
  h2h::SopPoseParams p;
  p.frames = static_cast<int>(t);
  p.points = static_cast<int>(n);
  p.model = model.data();
  p.pixels = pixels.data();
  p.weights = weights ? weights->data() : nullptr;
  p.iterations = iterations;
  p.rotation = rotation.mutable_data();
  p.translation = translation.mutable_data();
  p.scale = scale.mutable_data();
  {
    py::gil_scoped_release release;
    h2h::SopPose(p);
  }
  return py::make_tuple(rotation, translation, scale);
}

py::tuple ShapeSolveBinding(DArray mean, DArray id_basis, DArray exp_basis, IArray vertex, DArray proj,
                            DArray offset, DArray target, DArray weight, double id_prior, double exp_prior,
                            double smoothness, std::pair<double, double> id_bounds,
                            std::pair<double, double> exp_bounds, DArray identity, DArray expression,
                            int max_iterations, double tolerance) {
  const char* fn = "fit_shape_solve";
  H2H_CHECK_SHAPE(mean, fn, "mean", "(L, 3)", -1, 3);
  const long nv = mean.shape(0);
  H2H_CHECK_SHAPE(id_basis, fn, "id_basis", "(L, 3, n_id)", nv, 3, -1);
  H2H_CHECK_SHAPE(exp_basis, fn, "exp_basis", "(L, 3, n_exp)", nv, 3, -1);
  const long na = id_basis.shape(2), ne = exp_basis.shape(2);
  H2H_CHECK_SHAPE(vertex, fn, "vertex", "(T, K)", -1, -1);
  const long t = vertex.shape(0), k = vertex.shape(1);
  H2H_CHECK_SHAPE(proj, fn, "proj", "(T, 2, 3)", t, 2, 3);
  H2H_CHECK_SHAPE(offset, fn, "offset", "(T, 2)", t, 2);
  H2H_CHECK_SHAPE(target, fn, "target", "(T, K, 2)", t, k, 2);
  H2H_CHECK_SHAPE(weight, fn, "weight", "(T, K)", t, k);
  H2H_CHECK_SHAPE(identity, fn, "identity", "(n_id,)", na);
  H2H_CHECK_SHAPE(expression, fn, "expression", "(T, n_exp)", t, ne);
  H2H_CHECK(id_prior > 0 && exp_prior > 0 && smoothness >= 0, fn,
            "id_prior and exp_prior must be > 0 and smoothness >= 0");
  H2H_CHECK(id_bounds.first <= id_bounds.second && exp_bounds.first <= exp_bounds.second, fn,
            "bounds must be (lo, hi) with lo <= hi");
  const int* vp = vertex.data();
  for (long i = 0; i < t * k; ++i) H2H_CHECK(vp[i] >= 0 && vp[i] < nv, fn, "vertex indices must be in [0, L)");
  const double* wp = weight.data();
  for (long i = 0; i < t * k; ++i) H2H_CHECK(wp[i] >= 0, fn, "weights must be non-negative");
  DArray id_out({na}), exp_out({t, ne});
  std::copy(identity.data(), identity.data() + na, id_out.mutable_data());
  std::copy(expression.data(), expression.data() + t * ne, exp_out.mutable_data());
  h2h::ShapeSolveParams p;
  p.frames = static_cast<int>(t);
  p.points = static_cast<int>(k);
  p.vertices = static_cast<int>(nv);
  p.n_id = static_cast<int>(na);
  p.n_exp = static_cast<int>(ne);
  p.mean = mean.data();
  p.id_basis = id_basis.data();
  p.exp_basis = exp_basis.data();
  p.vertex = vp;
  p.proj = proj.data();
  p.offset = offset.data();
  p.target = target.data();
  p.weight = wp;
  p.id_prior = id_prior;
  p.exp_prior = exp_prior;
  p.smoothness = smoothness;
  p.id_lo = id_bounds.first;
  p.id_hi = id_bounds.second;
  p.exp_lo = exp_bounds.first;
  p.exp_hi = exp_bounds.second;
  p.max_iterations = max_iterations;
  p.tolerance = tolerance;
  p.identity = id_out.mutable_data();
  p.expression = exp_out.mutable_data();
  {
    py::gil_scoped_release release;
    h2h::ShapeSolve(p);
  }
  return py::make_tuple(id_out, exp_out, p.cost, p.iterations_done);
}

}  // namespace

void BindFit(py::module_& m) {
  m.def("sop_pose", &SopPoseBinding, py::arg("model"), py::arg("pixels"), py::arg("weights") = py::none(),
        py::arg("iterations") = 5,
        "Per-frame SOP cameras (R (T,3,3), t (T,2), s (T,)) from (T,N,3) model points and (T,N,2) pixels.");
  m.def("fit_shape_solve", &ShapeSolveBinding, py::arg("mean"), py::arg("id_basis"), py::arg("exp_basis"),
        py::arg("vertex"), py::arg("proj"), py::arg("offset"), py::arg("target"), py::arg("weight"),
        py::arg("id_prior"), py::arg("exp_prior"), py::arg("smoothness"), py::arg("id_bounds"),
        py::arg("exp_bounds"), py::arg("identity"), py::arg("expression"), py::arg("max_iterations") = 50,
        py::arg("tolerance") = 1e-12,
        "Bounded batch identity/expression solve with fixed cameras -> (identity, expression, cost, iterations).");
}
