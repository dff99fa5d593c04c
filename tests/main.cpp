// The test runner: doctest's own main. Every tests/test_*.cpp registers its cases with TEST_CASE.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
