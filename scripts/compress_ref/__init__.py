"""Python references of hico-compress's methods, one module per method (see
scripts/make_compress_fixtures.py). Written from each method's official code; numbers in f64."""
