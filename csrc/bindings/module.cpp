// The one pybind11 module, h2h_engine._native: each area adds its bindings with Bind<Area>(m).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void BindFit(py::module_& m);
void BindLandmarks(py::module_& m);
void BindMorphable(py::module_& m);
void BindRaster(py::module_& m);

PYBIND11_MODULE(_native, m) {
  m.doc() = "head2head native kernels (C++17 + OpenMP, CUDA where built)";
#ifdef H2H_WITH_CUDA
  m.attr("has_cuda") = true;
#else
  m.attr("has_cuda") = false;
#endif
  BindFit(m);
  BindLandmarks(m);
  BindMorphable(m);
  BindRaster(m);
}
