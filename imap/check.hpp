// imap/check.hpp — REFMAIL_CHECK for the imap module: a broken invariant is a bug.
// It aborts with a message; it is never used for peer input (that becomes a response).
// SECURITY: aborting is preferred to continuing with a corrupted session state.
#pragma once

#ifndef REFMAIL_CHECK
#include <cstdio>
#include <cstdlib>
#define REFMAIL_CHECK(cond)                                                                 \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: REFMAIL_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
#endif
