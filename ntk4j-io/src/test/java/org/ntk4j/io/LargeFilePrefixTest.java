package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@code PATH.npy:N} and {@code PATH.npz:N} of arrays of more than 2^31-1 elements: ImageNet features, 1,281,167 x
 * 2048 float32 (2.6e9 elements, 10.5 GB), whose first rows are asked for. The files are sparse (their length set
 * past the bytes written; the rest reads as zeros), so they cost a few megabytes of disk, and a reader that read
 * them whole would take tens of seconds rather than milliseconds.
 */
class LargeFilePrefixTest {
    /** ImageNet's training examples. */
    private static final int N = 1_281_167;
    /** Features per example (a ResNet-50's pooled features). */
    private static final int D = 2048;
    /** The data bytes of [N, D] float32. */
    private static final long DATA_BYTES = (long) N * D * 4;

    @TempDir
    Path dir;

    /** Rows 0 and 1 hold 1, 2, ...; row 999's last value is -7.5; every other value is 0 (the file's holes). */
    private static byte[] firstRows() {
        float[] values = new float[2 * D];
        for (int i = 0; i < values.length; i++) {
            values[i] = i + 1;
        }
        return RawNpy.f4(values);
    }

    private static final long LAST_OF_ROW_999 = (999L * D + D - 1) * 4;

    /** A sparse [N, D] float32 .npy: header, rows 0 and 1, -7.5 at [999, D-1], holes elsewhere. */
    private Path sparseFeatures(String name, long length) throws IOException {
        Path p = dir.resolve(name);
        byte[] header = NpyHeader.encode(NpyDType.FLOAT32, new int[] {N, D});
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(header);
            f.write(firstRows());
            if (header.length + LAST_OF_ROW_999 + 4 <= length) {
                f.seek(header.length + LAST_OF_ROW_999);
                f.write(RawNpy.f4(-7.5f));
            }
            f.setLength(length);
        }
        return p;
    }

    private static void checkFirst1000(Dataset d) {
        assertThat(d.x().shape()).containsExactly(1000, D);
        float[] x = d.x().toFloatArray();
        for (int i = 0; i < 2 * D; i++) {
            assertThat(x[i]).isEqualTo(i + 1);
        }
        for (int i = 2 * D; i < x.length - 1; i++) {
            assertThat(x[i]).isZero();
        }
        assertThat(x[x.length - 1]).isEqualTo(-7.5f);
    }

    @Test
    void theFirstRowsOfANpyOfMoreThan2To31ElementsAreRead() throws IOException {
        Path feats = sparseFeatures("feats.npy", NpyHeader.encode(NpyDType.FLOAT32, new int[] {N, D}).length
                + DATA_BYTES);
        NpyHeader h = Npy.readHeader(feats); // a header like any other
        assertThat(h.shape()).containsExactly(N, D);
        assertThat(h.size()).isEqualTo(2_623_830_016L);
        assertThat(h.dataBytes()).isEqualTo(10_495_320_064L);
        try (Dataset d = DataSource.loadDataset(feats + ":1000", DType.F32, 0)) { // 8 MB read, not 10.5 GB
            checkFirst1000(d);
        }
        try (Dataset d = DataSource.loadDataset(feats + ":2", DType.F64, 0)) {
            assertThat(d.x().getFlat(2 * D - 1)).isEqualTo(2.0 * D);
        }
        // the whole array, or rows beyond what a tensor holds: refused before anything is allocated, saying how
        // many rows fit (2^31-1 bytes of float32: 262,143 rows of 2048)
        assertThatThrownBy(() -> DataSource.loadDataset(feats.toString(), DType.F32, 0))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(feats + ": array of shape (1281167, 2048) has more than 2^31-1 elements (2623830016), "
                        + "more than an ntk4j tensor holds; read its first rows with a data source's :N (PATH.npy:N, "
                        + "N at most 262143), or split it into several files");
        assertThatThrownBy(() -> DataSource.loadDataset(feats + ":1100000", DType.F32, 0))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(feats + ": the first 1100000 rows of the array of shape (1281167, 2048) have more than "
                        + "2^31-1 elements (2252800000), more than an ntk4j tensor holds; ask for at most 262143 rows "
                        + "with :N");
        assertThatThrownBy(() -> DataSource.loadDataset(feats + ":300000", DType.F64, 0))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(feats + ": the first 300000 rows of the array of shape (1281167, 2048) are 614400000 "
                        + "values, 4915200000 bytes as float64, more than an ntk4j tensor holds (2^31-1 bytes); ask "
                        + "for at most 131071 rows with :N");
        // Npy.read (the file's own type, on the heap) refuses it whole too
        assertThatThrownBy(() -> Npy.read(feats)).isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(feats + ": array of shape (1281167, 2048) has more than 2^31-1 elements");
    }

    @Test
    void labelsBesideAreReadAsFarAsTheRowsAndCountedWhole() throws IOException {
        Path feats = sparseFeatures("f.npy", NpyHeader.encode(NpyDType.FLOAT32, new int[] {N, D}).length
                + DATA_BYTES);
        // int64 labels, one per example (10 MB, sparse too): 7, 3, 999, then zeros
        Path labels = dir.resolve("y.npy");
        byte[] header = NpyHeader.encode(NpyDType.INT64, new int[] {N});
        try (RandomAccessFile f = new RandomAccessFile(labels.toFile(), "rw")) {
            f.write(header);
            f.write(ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(7).putLong(3).putLong(999)
                    .array());
            f.setLength(header.length + 8L * N);
        }
        try (Dataset d = DataSource.loadDataset(feats + ":labels=" + labels + ":1000", DType.F32, 0)) {
            checkFirst1000(d);
            assertThat(d.labels()).hasSize(1000);
            assertThat(d.labels()[0]).isEqualTo(7);
            assertThat(d.labels()[1]).isEqualTo(3);
            assertThat(d.labels()[2]).isEqualTo(999);
            assertThat(d.labels()[999]).isZero();
            assertThat(d.numClasses()).isEqualTo(1000);
        }
        // a labels file of another count is refused, whatever N
        Path fewer = dir.resolve("fewer.npy");
        Npy.write(fewer, NpyArray.ofLongs(NpyDType.UINT8, new long[1000], 1000));
        assertThatThrownBy(() -> DataSource.loadDataset(feats + ":labels=" + fewer + ":1000", DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + feats + ":labels=" + fewer + ":1000': 1281167 examples but 1000 labels");
    }

    @Test
    void aFileShorterThanItsHeaderSaysIsStillRefused() throws IOException {
        int headerBytes = NpyHeader.encode(NpyDType.FLOAT32, new int[] {N, D}).length;
        // it holds the 1000 rows asked for, but not the array its header announces
        Path cut = sparseFeatures("cut.npy", headerBytes + 1000L * D * 4);
        assertThatThrownBy(() -> DataSource.loadDataset(cut + ":1000", DType.F32, 0))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(cut + ": truncated .npy file: shape (1281167, 2048) of '<f4' needs 10495320064 data bytes "
                        + "after the " + headerBytes + "-byte header, the file has only 8192000");
        // a shape no file can have (2^93 bytes) is a damaged header
        Path damaged = dir.resolve("damaged.npy");
        Files.write(damaged, RawNpy.npy(RawNpy.dict("<f4", "(2147483647, 2147483647, 2147483647)"), new byte[0]));
        assertThatThrownBy(() -> DataSource.loadDataset(damaged + ":1", DType.F32, 0))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(damaged + ": array of shape (2147483647, 2147483647, 2147483647) would be more than 2^63-1 "
                        + "bytes, larger than any file: the header is damaged");
    }

    /** Values of the Fortran-order [N, D] arrays below, by (row, column); every other value is 0 (a hole). */
    private static final int[][] FORTRAN_AT = {{0, 0}, {1, 0}, {999, 0}, {1000, 0}, {0, D - 1}, {999, D - 1},
        {5, 1000}, {N - 1, D - 1}};

    private static float fortranValue(int k) {
        return k == FORTRAN_AT.length - 1 ? -7.5f : k + 1;
    }

    /** Writes the values of {@link #FORTRAN_AT} where Fortran order puts them, data starting at {@code data}. */
    private static void writeFortranValues(RandomAccessFile f, long data) throws IOException {
        for (int k = 0; k < FORTRAN_AT.length; k++) {
            f.seek(data + ((long) FORTRAN_AT[k][0] + (long) N * FORTRAN_AT[k][1]) * 4);
            f.write(RawNpy.f4(fortranValue(k)));
        }
    }

    /** The first 1000 rows of the Fortran-order array: the values of {@link #FORTRAN_AT} in rows below 1000. */
    private static void checkFortranFirst1000(Dataset d) {
        assertThat(d.x().shape()).containsExactly(1000, D);
        float[] x = d.x().toFloatArray();
        float[] expected = new float[1000 * D];
        for (int k = 0; k < FORTRAN_AT.length; k++) {
            if (FORTRAN_AT[k][0] < 1000) {
                expected[FORTRAN_AT[k][0] * D + FORTRAN_AT[k][1]] = fortranValue(k);
            }
        }
        for (int i = 0; i < expected.length; i++) {
            if (x[i] != expected[i]) {
                throw new AssertionError("element " + i + " (row " + i / D + ", column " + i % D + ") is " + x[i]
                        + ", expected " + expected[i]);
            }
        }
    }

    /**
     * The first rows of a Fortran-order array larger than a tensor ({@code np.save(f, X.T)} of ImageNet features):
     * read as 2048 runs of 1000 values, the 1,280,167 values after each skipped, not the whole 10.5 GB file (a
     * sparse file: reading it whole would take tens of seconds). A file shorter than its header says is refused.
     */
    @Test
    void theFirstRowsOfAHugeFortranOrderFileAreReadRunByRun() throws IOException {
        String dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (1281167, 2048), }";
        byte[] header = RawNpy.npy(dict, new byte[0]);
        Path p = dir.resolve("fortran.npy");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(header);
            writeFortranValues(f, header.length);
            f.setLength(header.length + DATA_BYTES);
        }
        try (Dataset d = DataSource.loadDataset(p + ":1000", DType.F32, 0)) {
            checkFortranFirst1000(d);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(p.toString(), DType.F32, 0))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("more than 2^31-1 elements (2623830016)");
        Path cut = dir.resolve("fortran-cut.npy");
        try (RandomAccessFile f = new RandomAccessFile(cut.toFile(), "rw")) {
            f.write(header);
            f.setLength(header.length + DATA_BYTES - 4);
        }
        assertThatThrownBy(() -> DataSource.loadDataset(cut + ":1000", DType.F32, 0))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(cut + ": truncated .npy file");
    }

    // ------------------------------------------------------------------------------------------------ .npz

    /**
     * A zip64 archive, written by hand: a small stored {@code y.npy} (whole, with its CRC-32), then {@code x.npy}
     * whose directory entry says {@code xSize} bytes, of which {@code xBytes} are written, stored or deflated.
     * The stored entry's bytes beyond those are a hole of the sparse file; its CRC-32 is not known (0), as nothing
     * checks it when only its first rows are read.
     */
    private Path zip64(String name, byte[] y, byte[] xBytes, long xSize, boolean deflate) throws IOException {
        Path p = dir.resolve(name);
        byte[] xData = xBytes;
        if (deflate) {
            Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
            deflater.setInput(xBytes);
            deflater.finish();
            byte[] buf = new byte[xBytes.length + 1024];
            int n = deflater.deflate(buf);
            deflater.end();
            xData = java.util.Arrays.copyOf(buf, n);
        }
        long xStored = deflate ? xData.length : xSize;
        CRC32 crc = new CRC32();
        crc.update(y);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            long yOffset = 0;
            f.write(local("y.npy", 0, crc.getValue(), y.length, y.length, false));
            f.write(y);
            long xOffset = f.getFilePointer();
            f.write(local("x.npy", deflate ? 8 : 0, 0, xStored, xSize, true));
            long xDataStart = f.getFilePointer();
            f.write(xData);
            long cdStart = xDataStart + xStored;
            f.seek(cdStart);
            byte[] cd = concat(central("y.npy", 0, crc.getValue(), y.length, y.length, yOffset, false),
                    central("x.npy", deflate ? 8 : 0, 0, xStored, xSize, xOffset, true));
            f.write(cd);
            long zip64End = cdStart + cd.length;
            ByteBuffer end = le(56 + 20 + 22);
            end.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                    .putLong(2).putLong(2).putLong(cd.length).putLong(cdStart);
            end.putInt(0x07064b50).putInt(0).putLong(zip64End).putInt(1);
            end.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) 2).putShort((short) 2)
                    .putInt(cd.length).putInt(0xFFFFFFFF).putShort((short) 0);
            f.write(end.array());
        }
        return p;
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A local file header; with {@code zip64}, the sizes are in a zip64 extra field (only the large one, usize). */
    private static byte[] local(String name, int method, long crc, long csize, long usize, boolean zip64) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = le(30 + n.length + (zip64 ? 20 : 0));
        b.putInt(0x04034b50).putShort((short) 45).putShort((short) 0).putShort((short) method).putShort((short) 0)
                .putShort((short) 0x21).putInt((int) crc).putInt(zip64 ? 0xFFFFFFFF : (int) csize)
                .putInt(zip64 ? 0xFFFFFFFF : (int) usize).putShort((short) n.length).putShort((short) (zip64 ? 20 : 0))
                .put(n);
        if (zip64) {
            b.putShort((short) 1).putShort((short) 16).putLong(usize).putLong(csize);
        }
        return b.array();
    }

    /** A central directory header; with {@code zip64}, both sizes in a zip64 extra field (the offset fits). */
    private static byte[] central(String name, int method, long crc, long csize, long usize, long offset,
                                  boolean zip64) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = le(46 + n.length + (zip64 ? 20 : 0));
        b.putInt(0x02014b50).putShort((short) 45).putShort((short) 45).putShort((short) 0).putShort((short) method)
                .putShort((short) 0).putShort((short) 0x21).putInt((int) crc)
                .putInt(zip64 ? 0xFFFFFFFF : (int) csize).putInt(zip64 ? 0xFFFFFFFF : (int) usize)
                .putShort((short) n.length).putShort((short) (zip64 ? 20 : 0)).putShort((short) 0).putShort((short) 0)
                .putShort((short) 0).putInt(0).putInt((int) offset).put(n);
        if (zip64) {
            b.putShort((short) 1).putShort((short) 16).putLong(usize).putLong(csize);
        }
        return b.array();
    }

    private static byte[] concat(byte[]... parts) {
        return RawNpy.concat(parts);
    }

    /** y: uint16 labels i % 1000, one per example (2.5 MB, written whole). */
    private static byte[] labelsNpy() {
        ByteBuffer data = le(2 * N);
        for (int i = 0; i < N; i++) {
            data.putShort((short) (i % 1000));
        }
        return concat(NpyHeader.encode(NpyDType.UINT16, new int[] {N}), data.array());
    }

    @Test
    void theFirstRowsOfAHugeStoredOrDeflatedNpzEntryAreReadAlone() throws IOException {
        byte[] header = NpyHeader.encode(NpyDType.FLOAT32, new int[] {N, D});
        // x's first 1000 rows: rows 0 and 1 as in the .npy, the rest zeros but -7.5 at [999, D-1]
        byte[] rows = new byte[(int) (1000L * D * 4)];
        byte[] first = firstRows();
        System.arraycopy(first, 0, rows, 0, first.length);
        ByteBuffer.wrap(rows).order(ByteOrder.LITTLE_ENDIAN).putFloat((int) LAST_OF_ROW_999, -7.5f);
        byte[] xHead = concat(header, rows);
        long xSize = header.length + DATA_BYTES; // 10.5 GB, more than zip's 4 GB without zip64
        for (boolean deflate : new boolean[] {false, true}) {
            // the deflated x holds only its first 1000 rows: reading one byte further would fail ("unexpected end
            // of ZLIB input stream"), so reading succeeds only if it stops there
            Path npz = zip64(deflate ? "deflated.npz" : "stored.npz", labelsNpy(), xHead, xSize, deflate);
            try (Dataset d = DataSource.loadDataset(npz + ":1000", DType.F32, 0)) {
                checkFirst1000(d);
                assertThat(d.labels()).hasSize(1000);
                for (int i = 0; i < 1000; i++) {
                    assertThat(d.labels()[i]).isEqualTo(i);
                }
                assertThat(d.numClasses()).isEqualTo(1000);
            }
            assertThatThrownBy(() -> DataSource.loadDataset(npz + ":y=none", DType.F32, 0))
                    .as(npz.toString()).isInstanceOf(NpyFormatException.class)
                    .hasMessage(npz + ", entry 'x.npy': array of shape (1281167, 2048) has more than 2^31-1 elements "
                            + "(2623830016), more than an ntk4j tensor holds; read its first rows with a data source's "
                            + ":N (PATH.npy:N, N at most 262143), or split it into several files");
        }
    }

    /**
     * A stored Fortran-order entry larger than a tensor: its first rows read run by run, the rest of each run
     * skipped in the archive (a stored entry's bytes lie in the file as they are), as from a {@code .npy}.
     */
    @Test
    void theFirstRowsOfAHugeStoredFortranOrderNpzEntryAreReadRunByRun() throws IOException {
        byte[] header = RawNpy.npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1281167, 2048), }",
                new byte[0]);
        byte[] y = labelsNpy();
        Path npz = zip64("fortran.npz", y, header, header.length + DATA_BYTES, false);
        long xData = 35 + y.length + 55 + header.length; // y's local header and data, x's local header (zip64)
        try (RandomAccessFile f = new RandomAccessFile(npz.toFile(), "rw")) {
            f.seek(xData - header.length);
            byte[] check = new byte[header.length];
            f.readFully(check);
            assertThat(check).isEqualTo(header); // where the helper put x's data
            writeFortranValues(f, xData);
        }
        try (Dataset d = DataSource.loadDataset(npz + ":1000", DType.F32, 0)) {
            checkFortranFirst1000(d);
            for (int i = 0; i < 1000; i++) {
                assertThat(d.labels()[i]).isEqualTo(i);
            }
        }
    }

    /** An entry shorter than its header announces is refused naming the archive and entry, rows asked for or not. */
    @Test
    void anNpzEntryShorterThanItsHeaderSaysIsRefused() throws IOException {
        byte[] header = NpyHeader.encode(NpyDType.FLOAT32, new int[] {N, D});
        Path npz = dir.resolve("cut.npz");
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(npz))) {
            zip.putNextEntry(new ZipEntry("x.npy"));
            zip.write(concat(header, firstRows()));
            zip.closeEntry();
        }
        assertThatThrownBy(() -> DataSource.loadDataset(npz + ":2", DType.F32, 0))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(npz + ", entry 'x.npy': truncated .npy file: shape (1281167, 2048) of '<f4' needs "
                        + "10495320064 data bytes after the " + header.length + "-byte header, the file has only "
                        + "16384");
    }

    /**
     * A kernel file larger than one tensor holds is read in blocks of example rows into its float64 matrix, so
     * it is bounded by the matrix's memory only: a C-order float32 kernel of side 23171, float64 of side 16384 and
     * int32 of side 20000 (each past 2^31-1 bytes in the type it is read in; all three were refused as "more
     * than one tensor holds") are now refused only by a small off-heap limit, from the header, naming the matrix
     * and the 64 MiB block. A Fortran-order file is read whole to be transposed: it keeps the tensor's limit, and
     * its refusal says how to read it in blocks. A float32 kernel of side 20000 cut after its header is refused as
     * truncated, before anything is allocated.
     */
    @Test
    void aKernelLargerThanOneTensorIsReadInBlocksUnlessInFortranOrder() throws IOException {
        Path k = dir.resolve("K.npy");
        byte[] header = NpyHeader.encode(NpyDType.FLOAT32, new int[] {20_000, 20_000});
        Files.write(k, concat(header, new byte[16]));
        assertThatThrownBy(() -> KernelFiles.readSquareKernel(k))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(k + ": truncated .npy file: shape (20000, 20000) of '<f4' needs 1600000000 data bytes "
                        + "after the " + header.length + "-byte header, the file has only 16");
        // the matrix 8·side² bytes; the block as many whole rows (side values in the type read) as fit 64 MiB
        Object[][] cases = {{NpyDType.FLOAT32, 23_171, "float32", "4.0 GiB", "64.0 MiB"},
            {NpyDType.FLOAT64, 16_384, "float64", "2.0 GiB", "64.0 MiB"},
            {NpyDType.INT32, 20_000, "float64", "3.0 GiB", "63.9 MiB"}};
        for (Object[] c : cases) {
            int side = (Integer) c[1];
            NpyDType type = (NpyDType) c[0];
            Path big = dir.resolve("big" + side + ".npy");
            byte[] h = NpyHeader.encode(type, new int[] {side, side});
            try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
                f.write(h);
                f.setLength(h.length + type.itemSize() * (long) side * side);
            }
            assertThatThrownBy(() -> KernelFiles.readSquareKernel(big, 1L << 30))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith(big + ": reading a kernel of shape [" + side + ", " + side + "] takes ")
                    .hasMessageContaining("(its float64 " + side + "×" + side + " matrix, " + c[3]
                            + ", and the file read " + c[4] + " at a time as " + c[2] + ")");
            Path fortran = dir.resolve("fortran" + side + ".npy");
            byte[] fh = RawNpy.npy("{'descr': '" + type.descr() + "', 'fortran_order': True, 'shape': (" + side
                    + ", " + side + "), }", new byte[0]);
            try (RandomAccessFile f = new RandomAccessFile(fortran.toFile(), "rw")) {
                f.write(fh);
                f.setLength(fh.length + type.itemSize() * (long) side * side);
            }
            String bytes = String.format(java.util.Locale.ROOT, "%.4g", (double) side * side
                    * (c[2].equals("float32") ? 4 : 8));
            assertThatThrownBy(() -> KernelFiles.readSquareKernel(fortran))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(fortran + ": a Fortran-order kernel of shape [" + side + ", " + side + "] is " + bytes
                            + " bytes as " + c[2] + ", more than one tensor holds (2^31-1 bytes: N·O at most 23170 in"
                            + " float32, 16383 in float64 or for integers); a Fortran-order file is read whole to be"
                            + " transposed: save it in C order (np.ascontiguousarray) to read it in blocks");
        }
        Path rect = dir.resolve("R.npy");
        byte[] rectHeader = NpyHeader.encode(NpyDType.FLOAT32, new int[] {20_000, 30_000});
        try (RandomAccessFile f = new RandomAccessFile(rect.toFile(), "rw")) {
            f.write(rectHeader);
            f.setLength(rectHeader.length + 4L * 20_000 * 30_000);
        }
        assertThatThrownBy(() -> KernelFiles.readSquareKernel(rect))
                .hasMessage(rect + ": expected a square kernel [N, N] or [N, N, O, O], got [20000, 30000]");
    }

    /**
     * A kernel file is read into a float64 matrix a block of example rows at a time (at most 64 MiB, the whole
     * file when smaller): both are held at once, 8·d² plus the block. Where the JVM's off-heap limit is below that
     * sum, the read cannot succeed (it was tried anyway, reading the whole file before the matrix's allocation
     * failed: "out of memory", exit 3); it is refused from the header, in one line naming the two parts and the
     * limit. The boundary is exact: a 3×3 float32 kernel [[2,1,0],[1,2,1],[0,1,2]] needs 72 + 36 = 108 bytes, is
     * read (and is the same matrix) with a limit of 108 and refused with 107, and a [2, 2, 2, 2] float64 one needs
     * 128 + 128 = 256; a limit of 0 or less is JavaCPP's "none".
     */
    @Test
    void aKernelWhoseReadExceedsTheOffHeapLimitIsRefusedFromItsHeader() throws IOException {
        Path k = dir.resolve("K3.npy");
        try (Tensor t = Tensor.of(new double[] {2, 1, 0, 1, 2, 1, 0, 1, 2}, 3, 3); Tensor f = t.to(DType.F32)) {
            Npy.write(k, f);
        }
        for (long limit : new long[] {108, 0}) {
            KernelFiles.SquareKernel read = KernelFiles.readSquareKernel(k, limit);
            try (org.ntk4j.predict.KernelMatrix m = read.matrix()) {
                assertThat(read.precision()).isEqualTo(DType.F32);
                double[] row = new double[3];
                m.getRow(1, row);
                assertThat(row).containsExactly(1, 2, 1);
            }
        }
        assertThatThrownBy(() -> KernelFiles.readSquareKernel(k, 107))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(k + ": reading a kernel of shape [3, 3] takes 108 B (its float64 3×3 matrix, 72 B, and "
                        + "the file read 36 B at a time as float32), more than this JVM's off-heap limit of 107 B; "
                        + "raise it with NTK4J_JAVA_OPTS=-Xmx<size> (or -Dorg.bytedeco.javacpp.maxBytes)");
        Path full = dir.resolve("K2222.npy");
        double[] v = new double[16];
        for (int i = 0; i < 4; i++) {
            v[i * 4 + i] = 1; // the identity as the 4×4 matrix of row n·O + o
        }
        try (Tensor t = Tensor.of(v, 2, 2, 2, 2)) {
            Npy.write(full, t);
        }
        try (org.ntk4j.predict.KernelMatrix m = KernelFiles.readSquareKernel(full, 256).matrix()) {
            assertThat(m.dimension()).isEqualTo(4);
        }
        assertThatThrownBy(() -> KernelFiles.readSquareKernel(full, 255))
                .hasMessageStartingWith(full + ": reading a kernel of shape [2, 2, 2, 2] takes 256 B (its float64 "
                        + "4×4 matrix, 128 B, and the file read 128 B at a time as float64)");
    }
}
