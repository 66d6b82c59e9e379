"""A toy tab and a toy Inside view, written outside the package as a newcomer would add one (test_architecture)."""
