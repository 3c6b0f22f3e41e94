// tests/fuzz/fuzz_check.hpp — the invariant check shared by the libFuzzer targets: a
// failed invariant prints itself and aborts, which libFuzzer records as a crash.
#pragma once
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(c)                                                              \
  do {                                                                             \
    if (!(c)) {                                                                    \
      std::fprintf(stderr, "fuzz invariant failed: %s (line %d)\n", #c, __LINE__); \
      std::abort();                                                                \
    }                                                                              \
  } while (0)
