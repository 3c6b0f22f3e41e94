// tests/build/header_edge_probe.cpp — must NOT compile: it is built against storage
// only (tests/CMakeLists.txt, test build_header_edges) and includes a web/ header. The
// storage library does not link web, so its include path does not have web's headers.
#include "storage/store.hpp"
#include "web/http.hpp"
