// dlib's shape predictor (an ensemble of regression trees, Kazemi & Sullivan 2014) evaluated on a grey image,
// reading dlib's own model files (shape_predictor_68_face_landmarks.dat).
//
// The arithmetic follows dlib's `shape_predictor::operator()` step for step so that the points are dlib's:
// per cascade, the similarity transform from the mean shape to the current shape (double sums, cast to
// float), each feature pixel at `rect_map(tform * delta + anchor point)` rounded half up (outside the image:
// 0), each tree walked by `f[idx1] - f[idx2] > thresh`, its leaf added to the shape in tree order (float);
// the points mapped into the rectangle and rounded half up. This translation unit is compiled without
// floating-point contraction so that no multiply-add is fused where dlib's build rounds twice. The one
// difference: the 2x2 similarity is computed in closed form instead of by dlib's SVD (equal up to a few
// double ulps before the cast to float).
//
// Faster than dlib's build because leaf indices of a cascade are found first (its features are fixed) and
// the leaves are then summed with the next ones prefetched (the 65 MB of leaves do not fit in the caches),
// and because the sums vectorise over the 136 coordinates (order of the trees unchanged).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace h2h {

struct ShapeModel {
  int parts = 0;                 // P points (68)
  int cascades = 0;              // C cascade levels (15)
  int trees = 0;                 // T trees per cascade (500)
  int splits = 0;                // S split nodes per tree (15: depth 4)
  int leaves = 0;                // S + 1 leaves per tree (a power of 2: complete trees, as dlib requires)
  int depth = 0;                 // log2(leaves): split tests from the root to a leaf
  int features = 0;              // F feature pixels per cascade (500)
  std::vector<float> initial;    // (2P) mean shape, normalised box coordinates (x0, y0, x1, y1, ...)
  std::vector<uint16_t> idx1;    // (C, T, S) first feature of each split
  std::vector<uint16_t> idx2;    // (C, T, S) second feature of each split
  std::vector<float> thresh;     // (C, T, S) split thresholds
  std::vector<float> leaf;       // (C, T, S + 1, 2P) shape increments
  std::vector<int32_t> anchor;   // (C, F) point each feature pixel is attached to
  std::vector<float> delta;      // (C, F, 2) offset of each feature pixel from its point, in the mean shape
};

// Parses a dlib shape_predictor file's bytes; throws std::invalid_argument naming what is malformed.
ShapeModel ParseShapeModel(const uint8_t* data, size_t size);

// One face: the rectangle (integer left, top, right, bottom, inclusive, as dlib::rectangle) and the grey image.
struct ShapePredictParams {
  const uint8_t* image = nullptr;  // (H, W) grey pixels, rows `stride` bytes apart
  int height = 0, width = 0;
  long stride = 0;
  long left = 0, top = 0, right = 0, bottom = 0;
  float* points = nullptr;         // out (P, 2): dlib's integer point positions, as floats
};

void ShapePredict(const ShapeModel& model, ShapePredictParams& p);

}  // namespace h2h
