// Argument checks shared by every binding: one line each, naming the function and the shape it wanted.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

#define H2H_CHECK(cond, fn, msg)                                                   \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::ostringstream _h2h_os;                                                   \
      _h2h_os << fn << ": " << msg;                                                 \
      throw std::invalid_argument(_h2h_os.str());                                   \
    }                                                                               \
  } while (0)

// Checks a py::array_t's rank and (where >= 0) each dimension; `wanted` is the human-readable wanted shape.
#define H2H_CHECK_SHAPE(arr, fn, name, wanted, ...)                                  \
  do {                                                                              \
    const long _want[] = {__VA_ARGS__};                                             \
    const int _nd = static_cast<int>(sizeof(_want) / sizeof(long));                 \
    bool _ok = (arr).ndim() == _nd;                                                 \
    for (int _i = 0; _ok && _i < _nd; ++_i)                                         \
      if (_want[_i] >= 0 && (arr).shape(_i) != _want[_i]) _ok = false;              \
    H2H_CHECK(_ok, fn, name " must have shape " wanted);                             \
  } while (0)
