"""Code corpora: readers' helpers, filters' kernels and linters for source files."""
