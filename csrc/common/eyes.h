// Eye images (render/eyes.py): the two eye openings, each a fan of 6 triangles from its landmark contour to
// the contour's centre, drawn with the rasterizer's rules (rasterize.h: 1/256 px snapping, pixel centres at
// +0.5, top-left fill rule, no culling, equal depth so the lower triangle and thus the right eye wins), then a
// disc around each pupil cleared inside its own opening. One pass per frame writes the 3-channel image.
#pragma once
#include <cstdint>

namespace h2h {

struct EyeParams {
  const float* fans = nullptr;     // (T, 2, 7, 2) per eye (subject's right first): 6 contour points + centre,
                                   // output pixels relative to the window origin (x0, y0)
  const float* pupils = nullptr;   // (T, 2, 2) pupil centres, output pixels (not relative to the window)
  const float* radius = nullptr;   // (T, 2) pupil disc radii, output pixels
  int frames = 0, width = 0, height = 0;     // T and the output size
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;        // the window the fans are rasterized in (inside the output)
  float* image = nullptr;          // out (T, H, W, 3): 1 inside the openings, 0 on the pupils and elsewhere
  int8_t* eye = nullptr;           // out (T, H, W): 0 right opening, 1 left, -1 neither
};

void RenderEyes(const EyeParams& p);

}  // namespace h2h
