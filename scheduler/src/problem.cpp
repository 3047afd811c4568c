#include "orderly/scheduler/problem.hpp"

namespace orderly::scheduler {

const char* to_string(Period p) {
  switch (p) {
    case Period::sharp: return "sharp";
    case Period::peak: return "peak";
    case Period::flat: return "flat";
    case Period::valley: return "valley";
  }
  return "unknown";
}

const char* to_string(PhaseSet s) {
  switch (s) {
    case PhaseSet::a: return "A";
    case PhaseSet::b: return "B";
    case PhaseSet::c: return "C";
    case PhaseSet::abc: return "ABC";
    case PhaseSet::any_one: return "any-one";
  }
  return "unknown";
}

const char* to_string(Algorithm a) {
  switch (a) {
    case Algorithm::optimal: return "optimal";
    case Algorithm::uncontrolled: return "uncontrolled";
    case Algorithm::edf: return "edf";
    case Algorithm::llf: return "llf";
  }
  return "unknown";
}

}  // namespace orderly::scheduler
