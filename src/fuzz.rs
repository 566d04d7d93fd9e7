//! Fuzz entry points (filled in with the fuzz targets).
