/**
 * Files and data: NumPy .npy/.npz, IDX and CSV data sources with the embedded Fashion-MNIST subset
 * ({@link org.ntk4j.io.DataSource}), parameter files, and the tile store that writes a kernel file tile by tile.
 */
package org.ntk4j.io;
