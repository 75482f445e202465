// Bindings of the landmark kernels: dlib's 68-point shape predictor evaluated natively (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "common/check.h"
#include "common/shape_predict.h"

namespace py = pybind11;
using U8Array = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

namespace {

// A parsed model; `predict` may run on several threads at once (the model is read-only).
class ShapeModelHandle {
 public:
  explicit ShapeModelHandle(const py::bytes& data) {
    const std::string s = data;
    py::gil_scoped_release release;  // parsing 100 MB takes ~0.2 s: let other threads run meanwhile
    model_ = std::make_shared<h2h::ShapeModel>(
        h2h::ParseShapeModel(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }

  int parts() const { return model_->parts; }

  py::array_t<float> Predict(U8Array image, long left, long top, long right, long bottom) const {
    const char* fn = "ShapeModel.predict";
    H2H_CHECK_SHAPE(image, fn, "image", "(H, W) uint8", -1, -1);
    H2H_CHECK(right >= left && bottom >= top, fn, "the rectangle needs right >= left and bottom >= top");
    py::array_t<float> points({static_cast<long>(model_->parts), 2L});
    h2h::ShapePredictParams p;
    p.image = image.data();
    p.height = static_cast<int>(image.shape(0));
    p.width = static_cast<int>(image.shape(1));
    p.stride = static_cast<long>(image.strides(0));
    p.left = left;
    p.top = top;
    p.right = right;
    p.bottom = bottom;
    p.points = points.mutable_data();
    {
      py::gil_scoped_release release;
      h2h::ShapePredict(*model_, p);
    }
    return points;
  }

 private:
  std::shared_ptr<h2h::ShapeModel> model_;
};

}  // namespace

void BindLandmarks(py::module_& m) {
  py::class_<ShapeModelHandle>(m, "ShapeModel", "dlib shape predictor model parsed for native evaluation")
      .def(py::init<const py::bytes&>(), py::arg("data"),
           "parse the bytes of a dlib shape_predictor .dat file")
      .def_property_readonly("parts", &ShapeModelHandle::parts, "points per face")
      .def("predict", &ShapeModelHandle::Predict, py::arg("image"), py::arg("left"), py::arg("top"),
           py::arg("right"), py::arg("bottom"),
           "(P, 2) float32 dlib points of the face in the inclusive rectangle of an (H, W) uint8 image");
}
