package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class IdxTest {
    @TempDir
    Path dir;

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    /**
     * Int32 values convert exactly or are refused, as a {@code .npy} file's (2^24 + 1 was read as 2^24 in float32,
     * another token id); a float64 value beyond float32's range is refused rather than read as ∞.
     */
    @Test
    void integersConvertExactlyOrAreRefusedAsNpyIntegersAre() throws IOException {
        int[] exact = {16_777_216, -16_777_216, 1 << 30, Integer.MIN_VALUE, 0, 49};
        Path ok = write("exact-i32", IdxFiles.i32(exact, exact.length));
        try (Tensor f = Idx.read(ok, DType.F32, -1)) {
            for (int i = 0; i < exact.length; i++) {
                assertThat(f.getFlat(i)).isEqualTo((double) exact[i]);
            }
        }
        Path ids = write("ids-i32", IdxFiles.i32(new int[] {3, 16_777_217}, 2));
        assertThatThrownBy(() -> Idx.read(ids, DType.F32, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(ids + ": element 1 is the integer 16777217, which float32 cannot hold exactly (it holds "
                        + "every integer up to 2^24); converting would round it; read the file as float64 (--dtype "
                        + "f64, DType.F64)");
        Path negative = write("neg-i32", IdxFiles.gzip(IdxFiles.i32(new int[] {-16_777_219}, 1)));
        assertThatThrownBy(() -> DataSource.load("idx:" + negative, DType.F32, 0))
                .hasMessageContaining("element 0 is the integer -16777219, which float32 cannot hold exactly");
        try (Tensor d = Idx.read(ids, DType.F64, -1)) {
            assertThat(d.getFlat(1)).isEqualTo(16_777_217.0);
        }
        Path big = write("big-f64", IdxFiles.f64(new double[] {1, -2.5e300}, 2));
        assertThatThrownBy(() -> Idx.read(big, DType.F32, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(big + ": element 1 is -2.5E300, beyond float32's range");
    }

    @Test
    void readsUnsignedBytesPlainAndGzipIdentically() throws IOException {
        int[] v = new int[2 * 3 * 2];
        for (int i = 0; i < v.length; i++) {
            v[i] = i * 23 % 256;
        }
        v[5] = 255;
        byte[] raw = IdxFiles.u8(v, 2, 3, 2);
        Path plain = write("a-images-idx3-ubyte", raw);
        Path gz = write("b.weird-name", IdxFiles.gzip(raw)); // gzip recognised by its magic, not the name
        for (Path p : new Path[] {plain, gz}) {
            assertThat(Idx.readHeader(p).shape()).containsExactly(2, 3, 2);
            assertThat(Idx.readHeader(p).typeName()).isEqualTo("u8");
            try (Tensor t = Idx.read(p, DType.F64, -1)) {
                assertThat(t.shape()).containsExactly(2, 3, 2);
                assertThat(t.toDoubleArray()).containsExactly(Arrays.stream(v).asDoubleStream().toArray());
            }
        }
    }

    @Test
    void limitReadsOnlyTheFirstExamples() throws IOException {
        int[] v = {1, 2, 3, 4, 5, 6};
        Path p = write("x.gz", IdxFiles.gzip(IdxFiles.u8(v, 3, 2)));
        try (Tensor t = Idx.read(p, DType.F32, 2)) {
            assertThat(t.shape()).containsExactly(2, 2);
            assertThat(t.toDoubleArray()).containsExactly(1, 2, 3, 4);
        }
        try (Tensor t = Idx.read(p, DType.F32, 10)) { // more than there are: all
            assertThat(t.shape()).containsExactly(3, 2);
        }
    }

    @Test
    void readsEveryNumericTypeBigEndian() throws IOException {
        try (Tensor t = Idx.read(write("i32", IdxFiles.i32(new int[] {-7, 1 << 20, 0}, 3)), DType.F64, -1)) {
            assertThat(t.toDoubleArray()).containsExactly(-7, 1 << 20, 0);
        }
        try (Tensor t = Idx.read(write("f64", IdxFiles.f64(new double[] {0.1, -2.5e300}, 2)), DType.F64, -1)) {
            assertThat(t.toDoubleArray()).containsExactly(0.1, -2.5e300);
        }
        try (Tensor t = Idx.read(write("f32", IdxFiles.f32(new float[] {0.1f, -3f}, 1, 2)), DType.F32, -1)) {
            assertThat(t.toFloatArray()).containsExactly(0.1f, -3f);
        }
        try (Tensor t = Idx.read(write("i16", IdxFiles.i16(new short[] {-32768, 32767}, 2)), DType.F64, -1)) {
            assertThat(t.toDoubleArray()).containsExactly(-32768, 32767);
        }
        byte[] i8 = IdxFiles.u8(new int[] {0xff, 0x01}, 2);
        i8[2] = 0x09; // signed bytes
        try (Tensor t = Idx.read(write("i8", i8), DType.F64, -1)) {
            assertThat(t.toDoubleArray()).containsExactly(-1, 1);
        }
    }

    @Test
    void readsLabels() throws IOException {
        Path p = write("l.gz", IdxFiles.gzip(IdxFiles.u8(new int[] {9, 0, 3, 255}, 4)));
        assertThat(Idx.readLabels(p, -1)).containsExactly(9, 0, 3, 255);
        assertThat(Idx.readLabels(p, 2)).containsExactly(9, 0);
    }

    @Test
    void labelsMustBeRankOneIntegers() throws IOException {
        Path images = write("img", IdxFiles.u8(new int[4], 2, 2));
        assertThatThrownBy(() -> Idx.readLabels(images, -1)).isInstanceOf(DataFormatException.class)
                .hasMessage(images + ": labels must be one value per example, rank 1, but the IDX file has shape "
                        + "[2, 2]");
        Path floats = write("f", IdxFiles.f32(new float[] {1, 2}, 2));
        assertThatThrownBy(() -> Idx.readLabels(floats, -1)).isInstanceOf(DataFormatException.class)
                .hasMessage(floats + ": labels must be integers, but the IDX file holds f32");
    }

    @Test
    void headerProblemsAreNamed() throws IOException {
        Path notIdx = write("a", "hello world".getBytes());
        assertThatThrownBy(() -> Idx.read(notIdx, DType.F32, -1)).isInstanceOf(DataFormatException.class)
                .hasMessage(notIdx + ": not an IDX file: the magic number starts with 68 65, expected 00 00");
        byte[] badType = IdxFiles.u8(new int[] {1}, 1);
        badType[2] = 0x07;
        Path t = write("b", badType);
        assertThatThrownBy(() -> Idx.read(t, DType.F32, -1)).isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(t + ": unknown IDX type code 0x07; expected 08 (u8)");
        byte[] zeroDims = {0, 0, 8, 0};
        Path z = write("c", zeroDims);
        assertThatThrownBy(() -> Idx.read(z, DType.F32, -1)).isInstanceOf(DataFormatException.class)
                .hasMessage(z + ": IDX header declares 0 dimensions; expected 1 to 32");
        byte[] negative = IdxFiles.u8(new int[0], 0);
        negative = Arrays.copyOf(negative, 8);
        negative[3] = 1;
        negative[4] = (byte) 0x80;
        Path n = write("d", negative);
        assertThatThrownBy(() -> Idx.read(n, DType.F32, -1)).isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(n + ": IDX dimension 0 is negative");
        byte[] huge = {0, 0, 8, 2, 0, 1, 0, 0, 0, 1, 0, 0};
        Path h = write("e", huge);
        assertThatThrownBy(() -> Idx.read(h, DType.F32, -1)).isInstanceOf(DataFormatException.class)
                .hasMessage(h + ": IDX shape [65536, 65536]... holds more than 2^31-1 values (the tensor limit)");
    }

    @Test
    void truncatedFilesSayHowMuchIsMissing() throws IOException {
        byte[] full = IdxFiles.u8(new int[] {1, 2, 3, 4, 5, 6}, 3, 2);
        Path p = write("t", Arrays.copyOf(full, full.length - 2));
        assertThatThrownBy(() -> Idx.read(p, DType.F32, -1)).isInstanceOf(DataFormatException.class)
                .hasMessage(p + ": truncated IDX file: the header u8[3, 2] needs 18 bytes, more than the file can hold "
                        + "(16 bytes at most)");
        // The first two examples are all there: reading only them succeeds.
        try (Tensor t = Idx.read(p, DType.F32, 2)) {
            assertThat(t.toDoubleArray()).containsExactly(1, 2, 3, 4);
        }
        Path shortHeader = write("s", Arrays.copyOf(full, 6));
        assertThatThrownBy(() -> Idx.read(shortHeader, DType.F32, -1)).isInstanceOf(DataFormatException.class)
                .hasMessage(shortHeader + ": truncated IDX file: it ends after 2 of the 8 bytes of the 2 "
                        + "dimension sizes");
        byte[] gz = IdxFiles.gzip(full);
        Path cut = write("g.gz", Arrays.copyOf(gz, gz.length - 12));
        assertThatThrownBy(() -> Idx.read(cut, DType.F32, -1)).isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(cut + ": truncated IDX file: the header u8[3, 2] needs 6 data bytes, the "
                        + "file ends after ");
        // A stream (the embedded resources) has no size to check in advance: the end of the data is found.
        try (java.io.InputStream in = new java.io.ByteArrayInputStream(Arrays.copyOf(full, full.length - 2))) {
            assertThatThrownBy(() -> Idx.read(in, "stream", DType.F32, -1)).isInstanceOf(DataFormatException.class)
                    .hasMessage("stream: truncated IDX file: the header u8[3, 2] needs 6 data bytes, the file ends "
                            + "after 4");
        }
    }

    /**
     * A label file whose header claims 2^31-1 labels (a corrupt or hostile header; found by the fuzz test as a
     * heap OutOfMemoryError): the file's size refutes it before anything is allocated, and from a stream, which
     * has no size, the labels are read in chunks and the early end is reported.
     */
    @Test
    void labelCountsInTheHeaderAreNotTrusted() throws IOException {
        byte[] raw = IdxFiles.u8(new int[] {1, 2, 3}, 3);
        raw[4] = 0x7f;
        raw[5] = (byte) 0xff;
        raw[6] = (byte) 0xff;
        raw[7] = (byte) 0xff;
        Path gz = write("huge-labels.gz", IdxFiles.gzip(raw));
        assertThatThrownBy(() -> Idx.readLabels(gz, -1)).isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(gz + ": truncated IDX file: the header u8[2147483647] needs 2147483655 bytes, "
                        + "more than the file can hold");
        try (java.io.InputStream in = new java.io.ByteArrayInputStream(raw)) {
            assertThatThrownBy(() -> Idx.readLabels(in, "stream", -1)).isInstanceOf(DataFormatException.class)
                    .hasMessage("stream: truncated IDX file: the header u8[2147483647] needs 2147483647 data bytes, "
                            + "the file ends after 3 (reading the first 1048576 values)");
        }
        // a label file larger than one chunk reads whole
        int[] many = new int[(1 << 20) + 5];
        for (int i = 0; i < many.length; i++) {
            many[i] = i % 10;
        }
        Path big = write("many-labels", IdxFiles.u8(many, many.length));
        assertThat(Idx.readLabels(big, -1)).isEqualTo(many); // (containsExactly diffs in O(n²))
    }

    @Test
    void missingFileAndDirectory() {
        Path missing = dir.resolve("nope.gz");
        assertThatThrownBy(() -> Idx.read(missing, DType.F32, -1)).isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> Idx.read(dir, DType.F32, -1)).isInstanceOf(DataFormatException.class)
                .hasMessage(dir + ": is a directory, not an IDX file");
    }

    @Test
    void aDamagedGzipFileFailsItsCrcCheckEvenWhenOnlyItsFirstExamplesAreRead() throws IOException {
        int[] v = new int[10 * 4 * 4];
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 256;
        }
        byte[] raw = IdxFiles.u8(v, 10, 4, 4);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(raw);
        byte[] gz = IdxFiles.gzipStored(raw);
        IdxFiles.flipStored(gz, raw, 16 + 5 * 16); // a pixel of example 5: the deflate stream stays valid
        Path p = write("c-images-idx3-ubyte.gz", gz);
        String expected = p + ": corrupt gzip data: its trailer records CRC-32 " + String.format("%08x", crc.getValue())
                + " and " + raw.length + " bytes (mod 2^32), the data has CRC-32 ";
        assertThatThrownBy(() -> Idx.read(p, DType.F64, -1)).isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(expected).hasMessageEndingWith("; the file is damaged");
        // the damaged byte is in example 5; the first two are read, and the rest still checked
        assertThatThrownBy(() -> Idx.read(p, DType.F32, 2)).isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(expected);
        int[] labels = new int[200];
        byte[] rawLabels = IdxFiles.u8(labels, labels.length);
        byte[] gzLabels = IdxFiles.gzipStored(rawLabels);
        IdxFiles.flipStored(gzLabels, rawLabels, rawLabels.length - 1);
        Path l = write("c-labels-idx1-ubyte.gz", gzLabels);
        assertThatThrownBy(() -> Idx.readLabels(l, 3)).isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(l + ": corrupt gzip data: its trailer records CRC-32 ");
        // intact, the same file reads
        Path good = write("g-images-idx3-ubyte.gz", IdxFiles.gzipStored(raw));
        try (Tensor t = Idx.read(good, DType.F64, 2)) {
            assertThat(t.toDoubleArray()).containsExactly(Arrays.stream(v).limit(32).asDoubleStream().toArray());
        }
    }

    @Test
    void aGzipFileCutInItsTrailerIsTruncated() throws IOException {
        byte[] gz = IdxFiles.gzip(IdxFiles.u8(new int[] {1, 2, 3, 4, 5, 6}, 3, 2));
        Path p = write("cut.gz", Arrays.copyOf(gz, gz.length - 4)); // the length of the trailer gone
        assertThatThrownBy(() -> Idx.read(p, DType.F64, 1)).isInstanceOf(DataFormatException.class)
                .hasMessage(p + ": truncated gzip stream: it ends before its trailer (the CRC-32 and length of the "
                        + "data)");
    }

    @Test
    void fashionMnistFilesAreCheckedToo() throws IOException {
        Path fm = Files.createDirectory(dir.resolve("fm"));
        Files.write(fm.resolve("train-images-idx3-ubyte.gz"), IdxFiles.gzipStored(IdxFiles.u8(new int[4 * 4 * 4], 4, 4,
                4)));
        byte[] rawLabels = IdxFiles.u8(new int[] {1, 2, 3, 4}, 4);
        byte[] labels = IdxFiles.gzipStored(rawLabels);
        IdxFiles.flipStored(labels, rawLabels, rawLabels.length - 1); // the last label: only two are read
        Files.write(fm.resolve("train-labels-idx1-ubyte.gz"), labels);
        assertThatThrownBy(() -> DataSource.fashionMnist("fashion-mnist:train:2", "train:2", DType.F32, fm))
                .isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(fm.resolve("train-labels-idx1-ubyte.gz") + ": corrupt gzip data: ");
    }
}
