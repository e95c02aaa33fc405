package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.Inflater;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The prefix path of the data readers ({@code PATH.npy:N}, {@code PATH.npz:N}, {@code PATH.csv:N}, labels beside
 * them) over random shapes (rank 1 to 4, empty axes where the reader takes them), every dtype the readers accept,
 * the byte orders NumPy writes, row counts below, at and above the array's, and four containers: a {@code .npy}
 * file, a {@code .npy} through a pipe (a non-seekable channel of unknown size that hands out short reads, as
 * {@code /dev/stdin} does: what {@code Npy.readRows} gets for a pipe), and {@code .npz} entries stored
 * ({@code np.savez}) and deflated ({@code np.savez_compressed}), written with java.util.zip. The files are built
 * byte by byte here (header text as NumPy writes it, values little-endian), so the values read are checked against
 * the values written, not only against another read. Tries are modest (the class runs in seconds in
 * {@code mvn test}); {@code .ci/sweep-properties} multiplies them.
 */
class PrefixReadProperties {
    private static Path dir;

    @BeforeContainer
    static void createDir() throws IOException {
        dir = Files.createTempDirectory("ntk4j-prefix");
    }

    @AfterContainer
    static void deleteDir() throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Where an array's bytes are read from. */
    enum Container { NPY_FILE, NPY_PIPE, NPZ_STORED, NPZ_DEFLATED }

    // ------------------------------------------------------------------------------------------ arrays

    /** An array as written: its dtype, shape and values (the oracle), and its .npy bytes. */
    private record Written(NpyDType type, int[] shape, double[] values, byte[] npy, int dataOffset) {
        int rows() {
            return shape[0];
        }

        /** Bytes of one row (axis 0 entry) of data. */
        long rowBytes() {
            long n = type.itemSize();
            for (int i = 1; i < shape.length; i++) {
                n *= shape[i];
            }
            return n;
        }

        int rowSize() {
            return (int) (rowBytes() / type.itemSize());
        }
    }

    /** The header text NumPy writes: {@code (3,)} for rank 1, {@code (3, 2)} otherwise. */
    private static String shapeText(int[] shape) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        return sb.append(shape.length == 1 ? ",)" : ")").toString();
    }

    private static int size(int[] shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    private static int[] randomShape(Random r, int minRank, int minDim) {
        int[] shape = new int[minRank + r.nextInt(5 - minRank)];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = minDim + r.nextInt(i == 0 ? 6 : 4 - minDim);
        }
        return shape;
    }

    /**
     * A value of {@code type}, exact in float32 and float64 once converted (integers well inside 2^24; every
     * float16): floats include -0, subnormals and large values (float32's largest in a float32 file; a float64
     * file's stay in float32's range, so that it can be read as float32, rounded as NumPy's astype rounds).
     */
    private static double randomValue(NpyDType type, Random r) {
        switch (type) {
            case BOOL:
                return r.nextInt(2);
            case UINT8:
                return r.nextInt(256);
            case INT8:
                return r.nextInt(256) - 128;
            case UINT16:
            case UINT32:
            case UINT64:
                return r.nextInt(1 << 16);
            case INT16:
            case INT32:
            case INT64:
                return r.nextInt(1 << 16) - (1 << 15);
            case FLOAT16: {
                // -0, the smallest subnormal, the largest magnitude, else any finite float16 (exponent below 31)
                int k = r.nextInt(12);
                return k == 0 ? -0.0 : k == 1 ? 0x1p-24 : k == 2 ? -65504
                        : NpyDType.halfToDouble((short) (r.nextInt(0x7C00) | (r.nextBoolean() ? 0x8000 : 0)));
            }
            case FLOAT32: {
                int k = r.nextInt(12);
                return k == 0 ? -0.0 : k == 1 ? Float.MIN_VALUE : k == 2 ? -Float.MAX_VALUE : (float) r.nextGaussian();
            }
            default: {
                int k = r.nextInt(12);
                return k == 0 ? -0.0 : k == 1 ? Double.MIN_VALUE : k == 2 ? -1e30 : r.nextGaussian() * 1e3;
            }
        }
    }

    private static void put(ByteBuffer b, NpyDType type, double v) {
        switch (type.itemSize()) {
            case 1:
                b.put((byte) (long) v);
                break;
            case 2:
                b.putShort(type == NpyDType.FLOAT16 ? NpyDType.doubleToHalf(v) : (short) (long) v);
                break;
            case 4:
                if (type == NpyDType.FLOAT32) {
                    b.putFloat((float) v);
                } else {
                    b.putInt((int) (long) v);
                }
                break;
            default:
                if (type == NpyDType.FLOAT64) {
                    b.putDouble(v);
                } else {
                    b.putLong((long) v);
                }
        }
    }

    /**
     * A C-order array of {@code type} and {@code shape} with random values, in the descr NumPy writes ('|' for one
     * byte, '<' otherwise) or with {@code order} ('>' for big-endian, values written big-endian).
     */
    private static Written array(NpyDType type, int[] shape, Random r, char order) {
        double[] values = new double[size(shape)];
        ByteBuffer data = ByteBuffer.allocate(values.length * type.itemSize())
                .order(order == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < values.length; i++) {
            values[i] = randomValue(type, r);
            put(data, type, values[i]);
        }
        String descr = order + type.descr().substring(1);
        byte[] npy = RawNpy.npy(RawNpy.dict(descr, shapeText(shape)), data.array());
        return new Written(type, shape, values, npy, npy.length - data.capacity());
    }

    /** What a tensor of {@code target} holds for a value written in {@code type} (uint8 scaled by the sources). */
    private static double expected(double v, DType target) {
        return target == DType.F32 ? (float) v : v;
    }

    // ------------------------------------------------------------------------------------------ containers

    private static Path npz(String name, boolean deflated, String[] keys, byte[]... entries) throws IOException {
        Path p = dir.resolve(name);
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(p))) {
            for (int i = 0; i < keys.length; i++) {
                ZipEntry e = new ZipEntry(keys[i] + ".npy");
                if (deflated) {
                    e.setMethod(ZipEntry.DEFLATED);
                } else {
                    CRC32 crc = new CRC32();
                    crc.update(entries[i]);
                    e.setMethod(ZipEntry.STORED);
                    e.setSize(entries[i].length);
                    e.setCompressedSize(entries[i].length);
                    e.setCrc(crc.getValue());
                }
                zip.putNextEntry(e);
                zip.write(entries[i]);
                zip.closeEntry();
            }
        }
        return p;
    }

    private static Path file(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    /**
     * A pipe as the reader sees it: not seekable, of unknown size, and a read may return fewer bytes than asked
     * for (a pipe gives what its writer has written so far).
     */
    private static final class PipeChannel implements ReadableByteChannel {
        private final ByteArrayInputStream in;
        private final Random r;

        PipeChannel(byte[] bytes, Random r) {
            this.in = new ByteArrayInputStream(bytes);
            this.r = r;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (in.available() == 0) {
                return -1;
            }
            int n = Math.min(dst.remaining(), 1 + r.nextInt(r.nextBoolean() ? 7 : 4096));
            byte[] b = new byte[n];
            int got = in.read(b, 0, n);
            dst.put(b, 0, got);
            return got;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /** The array {@code w} in {@code c}, its first {@code rows} rows (all: -1) read as {@code target}. */
    private static Npy.Rows readRows(Container c, Written w, String name, DType target, int rows, Random r)
            throws IOException {
        switch (c) {
            case NPY_FILE:
                return Npy.readRows(file(name + ".npy", w.npy()), target, rows);
            case NPY_PIPE:
                return Npy.readRows(new PipeChannel(w.npy(), r), name, target, -1, rows);
            default:
                Path p = npz(name + ".npz", c == Container.NPZ_DEFLATED, new String[] {"x"}, w.npy());
                return Npz.readEntry(p, "x", (channel, source, size) -> Npy.readRows(channel, source, target, size,
                        rows), rows2 -> rows2.tensor().close(), Npy.Rows::partial);
        }
    }

    /** How the readers name the array {@link #readRows} reads: the file, the pipe, or the archive's entry. */
    private static String sourceName(Container c, String name) {
        return c == Container.NPY_FILE ? dir.resolve(name + ".npy").toString()
                : c == Container.NPY_PIPE ? name : dir.resolve(name + ".npz") + ", entry 'x.npy'";
    }

    private static void assertSameBits(String what, Tensor actual, Tensor expected, int elements) {
        assertThat(actual.dtype()).as(what).isEqualTo(expected.dtype());
        for (int i = 0; i < elements; i++) {
            long a = Double.doubleToRawLongBits(actual.getFlat(i));
            long e = Double.doubleToRawLongBits(expected.getFlat(i));
            if (a != e) {
                throw new AssertionError(what + ": element " + i + " is " + actual.getFlat(i) + ", expected "
                        + expected.getFlat(i));
            }
        }
    }

    private static DType targetFor(Random r) {
        // a float file is read as its own type or the other one; integers and booleans as either
        return r.nextBoolean() ? DType.F64 : DType.F32;
    }

    // ------------------------------------------------------------------------------------------ 1: :N is a prefix

    /**
     * Reading the first N rows gives the first min(N, rows) rows of the whole read, bit for bit, and the whole read
     * gives the values written; the header keeps the file's shape. Rank 1 to 4, axes of length 0 included, every
     * dtype, in every container.
     */
    @Property(tries = 120)
    void theFirstRowsAreAPrefixOfTheWholeRead(@ForAll Container container, @ForAll long seed) throws IOException {
        Random r = new Random(seed);
        NpyDType type = NpyDType.values()[r.nextInt(NpyDType.values().length)];
        Written w = array(type, randomShape(r, 1, 0), r, type.itemSize() == 1 ? '|' : '<');
        DType target = targetFor(r);
        int n = r.nextInt(w.rows() + 3);
        try (Tensor whole = readRows(container, w, "whole", target, -1, r).tensor()) {
            assertThat(whole.shape()).isEqualTo(w.shape());
            for (int i = 0; i < w.values().length; i++) {
                assertThat(Double.doubleToRawLongBits(whole.getFlat(i))).as("element %d of %s", i, w)
                        .isEqualTo(Double.doubleToRawLongBits(expected(w.values()[i], target)));
            }
            Npy.Rows part = readRows(container, w, "part", target, n, r);
            try (Tensor head = part.tensor()) {
                int kept = Math.min(n, w.rows());
                int[] shape = w.shape().clone();
                shape[0] = kept;
                assertThat(head.shape()).isEqualTo(shape);
                assertThat(part.header().shape()).isEqualTo(w.shape());
                assertThat(part.partial()).isEqualTo(kept < w.rows());
                assertSameBits(container + " :" + n + " of " + Arrays.toString(w.shape()), head, whole,
                        kept * w.rowSize());
            }
        }
    }

    /** Big-endian data ('>' with more than one byte per element, which NumPy writes on request) is refused. */
    @Property(tries = 40)
    void bigEndianDataIsRefusedWhateverN(@ForAll Container container, @ForAll long seed) {
        Random r = new Random(seed);
        NpyDType[] wide = Arrays.stream(NpyDType.values()).filter(t -> t.itemSize() > 1).toArray(NpyDType[]::new);
        NpyDType type = wide[r.nextInt(wide.length)];
        Written w = array(type, randomShape(r, 1, 0), r, '>');
        int n = r.nextBoolean() ? -1 : r.nextInt(w.rows() + 3);
        String descr = ">" + type.descr().substring(1);
        assertThatThrownBy(() -> readRows(container, w, "big", DType.F64, n, r).tensor().close())
                .isInstanceOf(NpyFormatException.class).hasMessageStartingWith(sourceName(container, "big") + ": ")
                .hasMessageContaining("big-endian data ('" + descr + "') is not supported");
    }

    // ------------------------------------------------------------------------------------------ 2: Fortran order

    /**
     * The array {@code w} (its values C order, the oracle) saved in Fortran order, as {@code np.save} saves
     * {@code np.asfortranarray(a)}: header {@code 'fortran_order': True}, element (i0, ..., ik) at file position
     * i0 + d0·(i1 + d1·(i2 + ...)). Built element by element here, independently of the reader's run arithmetic.
     */
    static Written fortran(Written w) {
        int[] shape = w.shape();
        int item = w.type().itemSize();
        ByteBuffer data = ByteBuffer.allocate(w.values().length * item).order(ByteOrder.LITTLE_ENDIAN);
        int[] index = new int[shape.length];
        for (int f = 0; f < w.values().length; f++) {
            int rest = f; // the multi-index of file position f, axis 0 fastest
            for (int a = 0; a < shape.length; a++) {
                index[a] = rest % shape[a];
                rest /= shape[a];
            }
            int c = 0; // its C-order flat index
            for (int a = 0; a < shape.length; a++) {
                c = c * shape[a] + index[a];
            }
            put(data, w.type(), w.values()[c]);
        }
        String dict = "{'descr': '" + w.type().descr() + "', 'fortran_order': True, 'shape': " + shapeText(shape)
                + ", }";
        byte[] npy = RawNpy.npy(dict, data.array());
        return new Written(w.type(), shape, w.values(), npy, npy.length - data.capacity());
    }

    /** The array {@code w} in {@code c}, its first {@code rows} rows (all: -1) read in its own type. */
    private static Npy.ArrayRows readArray(Container c, Written w, String name, int rows, Random r)
            throws IOException {
        switch (c) {
            case NPY_FILE:
                return Npy.read(file(name + ".npy", w.npy()), rows);
            case NPY_PIPE:
                return Npy.read(new PipeChannel(w.npy(), r), name, -1, rows);
            default:
                Path p = npz(name + ".npz", c == Container.NPZ_DEFLATED, new String[] {"x"}, w.npy());
                return Npz.readEntry(p, "x", (channel, source, size) -> Npy.read(channel, source, size, rows), null,
                        Npy.ArrayRows::partial);
        }
    }

    /**
     * A Fortran-order array reads, whole and its first N rows, as a tensor of either type and as an array of its own,
     * element for element what the C-order file of the same array reads (and the values written): rank 1 to 4, axes
     * of length 0 and 1 included, every dtype, in every container.
     */
    @Property(tries = 150)
    void aFortranOrderArrayReadsAsItsCOrderFile(@ForAll Container container, @ForAll long seed) throws IOException {
        Random r = new Random(seed);
        NpyDType type = NpyDType.values()[r.nextInt(NpyDType.values().length)];
        Written w = array(type, randomShape(r, 1, 0), r, type.itemSize() == 1 ? '|' : '<');
        Written f = fortran(w);
        DType target = targetFor(r);
        int n = r.nextBoolean() ? -1 : r.nextInt(w.rows() + 3);
        int kept = n < 0 ? w.rows() : Math.min(n, w.rows());
        String what = container + " :" + n + " of " + Arrays.toString(w.shape()) + " " + type;
        try (Tensor c = readRows(container, w, "c", target, n, r).tensor()) {
            Npy.Rows rows = readRows(container, f, "f", target, n, r);
            try (Tensor t = rows.tensor()) {
                assertThat(t.shape()).as(what).isEqualTo(c.shape());
                assertThat(rows.header().fortranOrder()).isTrue();
                assertThat(rows.header().shape()).isEqualTo(w.shape());
                assertThat(rows.partial()).isEqualTo(kept < w.rows());
                assertSameBits(what, t, c, c.size());
                for (int i = 0; i < t.size(); i++) { // the first kept rows are the first values, C order
                    assertThat(Double.doubleToRawLongBits(t.getFlat(i))).as("%s: element %d", what, i)
                            .isEqualTo(Double.doubleToRawLongBits(expected(w.values()[i], target)));
                }
            }
        }
        NpyArray ca = readArray(container, w, "ca", n, r).array();
        NpyArray fa = readArray(container, f, "fa", n, r).array();
        assertThat(fa.shape()).as(what).isEqualTo(ca.shape());
        assertThat(fa.dtype()).isEqualTo(type);
        for (int i = 0; i < ca.size(); i++) {
            if (type.isFloating()) {
                assertThat(Double.doubleToRawLongBits(fa.getDouble(i))).as("%s: element %d", what, i)
                        .isEqualTo(Double.doubleToRawLongBits(ca.getDouble(i)));
            } else {
                assertThat(fa.getLong(i)).as("%s: element %d", what, i).isEqualTo(ca.getLong(i));
            }
        }
    }

    /**
     * Runs longer than the reader's 1 MiB chunk, gaps (rows not asked for) long enough to be skipped (a seek in a
     * file, a skip in a zip entry, read and dropped in a pipe) and many short runs across chunk boundaries: every
     * element as the C-order file reads it, in every container, float32 and float64.
     */
    @Example
    void fortranRunsAcrossChunksAndSkippedGaps() throws IOException {
        Random r = new Random(7);
        // a float64 run of 1.1 MB (longer than a chunk); 100,000 runs of 3 float32 values; runs of 72 KB
        int[][] shapes = {{140_000, 2}, {3, 50_000, 2}, {9_000, 7}};
        for (Container container : Container.values()) {
            for (int s = 0; s < shapes.length; s++) {
                int[] shape = shapes[s];
                NpyDType type = s == 1 ? NpyDType.FLOAT32 : NpyDType.FLOAT64;
                Written w = array(type, shape, r, '<');
                Written f = fortran(w);
                // all; a gap long enough to skip; a gap of one value (read through)
                for (int n : new int[] {-1, 5, shape[0] - 1}) {
                    DType target = type == NpyDType.FLOAT32 ? DType.F32 : DType.F64;
                    String what = container + " :" + n + " of " + Arrays.toString(shape) + " " + type;
                    try (Tensor c = readRows(container, w, "c", target, n, r).tensor();
                         Tensor t = readRows(container, f, "f", target, n, r).tensor()) {
                        assertThat(t.shape()).as(what).isEqualTo(c.shape());
                        assertSameBits(what, t, c, c.size());
                    }
                }
            }
        }
    }

    /** A Fortran-order file cut short is refused naming it, never read short or zero-padded; a pipe too. */
    @Property(tries = 60)
    void aTruncatedFortranOrderArrayIsRefused(@ForAll Container container, @ForAll long seed) throws IOException {
        Random r = new Random(seed);
        NpyDType type = NpyDType.values()[r.nextInt(NpyDType.values().length)];
        int[] shape = randomShape(r, 2, 2); // two axes longer than 1: the bytes are not C order
        Written f = fortran(array(type, shape, r, type.itemSize() == 1 ? '|' : '<'));
        // its first row alone needs the last run's first value: cut anywhere before the last value of data
        int cut = r.nextInt(f.npy().length - (int) (f.rowBytes() / f.rowSize()) + 1);
        cut = Math.min(cut, f.npy().length - 1);
        Written cutShort = new Written(type, shape, f.values(), Arrays.copyOf(f.npy(), cut), f.dataOffset());
        int n = r.nextBoolean() ? -1 : 1;
        String name = "fcut-" + container;
        if (container == Container.NPY_PIPE && n == 1 && cut >= f.dataOffset()
                + ((long) size(shape) - shape[0] + 1) * type.itemSize()) {
            return; // a pipe read once as far as its first row's last value holds that row
        }
        assertThatThrownBy(() -> readRows(container, cutShort, name, DType.F64, n, r).tensor().close())
                .as("cut at %d of %d bytes", cut, f.npy().length)
                .isInstanceOf(NpyFormatException.class).hasMessageStartingWith(sourceName(container, name) + ": ");
    }

    // ------------------------------------------------------------------------------------------ data sources

    /** A data source's file of x (and y) as written, in a .npy (labels in a second .npy) or an .npz (x and y). */
    private static String source(Container c, String name, Written x, Written y) throws IOException {
        if (c == Container.NPY_FILE) {
            Path px = file(name + ".npy", x.npy());
            return y == null ? px.toString() : px + ":labels=" + file(name + "-labels.npy", y.npy());
        }
        Path p = y == null
                ? npz(name + ".npz", c == Container.NPZ_DEFLATED, new String[] {"x"}, x.npy())
                : npz(name + ".npz", c == Container.NPZ_DEFLATED, new String[] {"x", "y"}, x.npy(), y.npy());
        return p.toString();
    }

    private static final NpyDType[] LABEL_TYPES = {NpyDType.UINT8, NpyDType.INT8, NpyDType.INT16, NpyDType.UINT16,
        NpyDType.INT32, NpyDType.UINT32, NpyDType.INT64, NpyDType.UINT64, NpyDType.FLOAT32, NpyDType.FLOAT64};

    /** Labels: class indices 0 to 9 in an integer type, or whole numbers in a float type. */
    private static Written labels(int count, Random r) {
        NpyDType type = LABEL_TYPES[r.nextInt(LABEL_TYPES.length)];
        ByteBuffer data = ByteBuffer.allocate(count * type.itemSize()).order(ByteOrder.LITTLE_ENDIAN);
        double[] values = new double[count];
        for (int i = 0; i < count; i++) {
            values[i] = r.nextInt(10);
            put(data, type, values[i]);
        }
        byte[] npy = RawNpy.npy(RawNpy.dict(type.descr(), shapeText(new int[] {count})), data.array());
        return new Written(type, new int[] {count}, values, npy, npy.length - data.capacity());
    }

    private static final Container[] SOURCE_CONTAINERS = {Container.NPY_FILE, Container.NPZ_STORED,
        Container.NPZ_DEFLATED};

    /**
     * {@code SOURCE:N} keeps the first N examples of the whole source and their labels (the labels file's first N,
     * the .npz's y's first N), bit for bit; N above the examples is refused, naming both counts.
     */
    @Property(tries = 80)
    void aDataSourceWithNKeepsTheFirstExamplesAndTheirLabels(@ForAll long seed, @ForAll boolean labelled)
            throws IOException {
        Random r = new Random(seed);
        Container c = SOURCE_CONTAINERS[r.nextInt(SOURCE_CONTAINERS.length)];
        NpyDType type = NpyDType.values()[r.nextInt(NpyDType.values().length)];
        Written x = array(type, randomShape(r, 2, 1), r, type.itemSize() == 1 ? '|' : '<');
        Written y = labelled ? labels(x.rows(), r) : null;
        DType target = targetFor(r);
        String spec = source(c, "src", x, y);
        int n = 1 + r.nextInt(x.rows() + 2);
        try (Dataset whole = DataSource.loadDataset(spec, target, 0)) {
            for (int i = 0; i < x.values().length; i++) {
                double v = type == NpyDType.UINT8 ? x.values()[i] / 255 : x.values()[i];
                assertThat(Double.doubleToRawLongBits(whole.x().getFlat(i))).as("element %d", i)
                        .isEqualTo(Double.doubleToRawLongBits(expected(v, target)));
            }
            if (labelled) {
                assertThat(whole.labels()).isEqualTo(Arrays.stream(y.values()).mapToInt(v -> (int) v).toArray());
            } else {
                assertThat(whole.labels()).isNull();
            }
            if (n > x.rows()) {
                assertThatThrownBy(() -> DataSource.loadDataset(spec + ":" + n, target, 0))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("data source '" + spec + ":" + n + "': asks for the first " + n
                                + " examples, but the file has " + x.rows());
                return;
            }
            try (Dataset head = DataSource.loadDataset(spec + ":" + n, target, 0)) {
                int[] shape = x.shape().clone();
                shape[0] = n;
                assertThat(head.x().shape()).isEqualTo(x.rows() == n ? x.shape() : shape);
                assertSameBits(spec + ":" + n, head.x(), whole.x(), n * x.rowSize());
                assertThat(head.labels()).isEqualTo(labelled ? Arrays.copyOf(whole.labels(), n) : null);
            }
        }
    }

    /** A labels file (or y) of another length than x is refused whatever N, naming both counts. */
    @Property(tries = 60)
    void labelsOfAnotherLengthAreRefusedWhateverN(@ForAll long seed) throws IOException {
        Random r = new Random(seed);
        Container c = SOURCE_CONTAINERS[r.nextInt(SOURCE_CONTAINERS.length)];
        Written x = array(NpyDType.FLOAT32, randomShape(r, 2, 1), r, '<');
        int count = r.nextBoolean() ? x.rows() + 1 + r.nextInt(3) : r.nextInt(x.rows());
        String spec = source(c, "mismatch", x, labels(count, r));
        String withN = r.nextInt(4) == 0 ? spec : spec + ":" + (1 + r.nextInt(x.rows()));
        assertThatThrownBy(() -> DataSource.loadDataset(withN, DType.F32, 0).close())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source '" + withN + "': " + x.rows() + " examples but " + count + " labels");
    }

    // ------------------------------------------------------------------------------------------ 3: truncation

    /**
     * A {@code .npy} cut short. Cut inside the first N rows' bytes (or the header): refused, naming the file or
     * entry, in every container, never a short or zero-padded read. Cut after them: a regular file and an .npz
     * entry (whose size is known) are still refused, as docs/data.md says ("a regular .npy must still be as long
     * as its header says"); a pipe, read once as far as the rows asked for, gives those rows, as written.
     */
    @Property(tries = 120)
    void aTruncatedArrayIsRefusedUnlessAPipeHoldsTheRowsAskedFor(@ForAll Container container, @ForAll long seed)
            throws IOException {
        Random r = new Random(seed);
        NpyDType type = NpyDType.values()[r.nextInt(NpyDType.values().length)];
        Written w = array(type, randomShape(r, 1, 1), r, type.itemSize() == 1 ? '|' : '<');
        int n = 1 + r.nextInt(w.rows());
        long needed = w.dataOffset() + n * w.rowBytes(); // the header and the first n rows
        boolean inside = r.nextBoolean() || needed == w.npy().length;
        int cut = inside ? r.nextInt((int) needed) : (int) needed + r.nextInt((int) (w.npy().length - needed));
        Written cutShort = new Written(type, w.shape(), w.values(), Arrays.copyOf(w.npy(), cut), w.dataOffset());
        String name = "cut-" + container;
        if (container == Container.NPY_PIPE && !inside) {
            try (Tensor t = readRows(container, cutShort, name, DType.F64, n, r).tensor()) {
                assertThat(t.dim(0)).isEqualTo(n);
                for (int i = 0; i < n * w.rowSize(); i++) {
                    assertThat(t.getFlat(i)).isEqualTo(w.values()[i]);
                }
            }
            return;
        }
        String source = sourceName(container, name);
        assertThatThrownBy(() -> readRows(container, cutShort, name, DType.F64, n, r).tensor().close())
                .as("cut at %d of %d bytes, the first %d rows end at %d", cut, w.npy().length, n, needed)
                .isInstanceOf(NpyFormatException.class).hasMessageStartingWith(source + ": ");
        if (container != Container.NPY_PIPE) {
            // and through a data source, naming the file
            String spec = container == Container.NPY_FILE ? source + ":" + n : dir.resolve(name + ".npz") + ":" + n;
            assertThatThrownBy(() -> DataSource.loadDataset(spec, DType.F64, 0).close())
                    .isInstanceOf(NpyFormatException.class).hasMessageStartingWith(source + ": ");
        }
    }

    /**
     * A labels file ({@code labels=y.npy}) cut short anywhere is refused naming it, whatever N: its size is known,
     * so it must hold every label its header counts, as x's file must hold every row.
     */
    @Property(tries = 60)
    void aTruncatedLabelsFileIsRefusedNamingIt(@ForAll long seed) throws IOException {
        Random r = new Random(seed);
        Written x = array(NpyDType.FLOAT64, randomShape(r, 2, 1), r, '<');
        Written y = labels(x.rows(), r);
        int n = 1 + r.nextInt(x.rows());
        long needed = y.dataOffset() + n * y.rowBytes();
        int cut = r.nextBoolean() ? r.nextInt((int) needed) : (int) needed + r.nextInt((int) (y.npy().length
                - needed + 1)) - 1; // inside the labels read, or after them (the last byte at most)
        Path px = file("x-for-cut-labels.npy", x.npy());
        Path py = file("cut-labels.npy", Arrays.copyOf(y.npy(), cut));
        String spec = px + ":labels=" + py + (r.nextInt(4) == 0 ? "" : ":" + n);
        assertThatThrownBy(() -> DataSource.loadDataset(spec, DType.F64, 0).close())
                .as("labels cut at %d of %d bytes", cut, y.npy().length)
                .isInstanceOf(NpyFormatException.class).hasMessageStartingWith(py + ": ");
    }

    // ------------------------------------------------------------------------------------------ 4: damaged .npz

    /** Where the data of entry {@code name} lies in the zip file: its offset and length. */
    private static long[] entryData(Path zipPath, byte[] zip, String name) throws IOException {
        try (ZipFile z = new ZipFile(zipPath.toFile())) {
            ZipEntry target = z.getEntry(name);
            ByteBuffer b = ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN);
            int at = 0;
            while (b.getInt(at) == 0x04034b50) {
                int nameLength = b.getShort(at + 26) & 0xffff;
                int extraLength = b.getShort(at + 28) & 0xffff;
                String entryName = new String(zip, at + 30, nameLength, StandardCharsets.UTF_8);
                int data = at + 30 + nameLength + extraLength;
                ZipEntry e = z.getEntry(entryName);
                if (entryName.equals(target.getName())) {
                    return new long[] {data, e.getCompressedSize()};
                }
                boolean descriptor = (b.getShort(at + 6) & 8) != 0;
                at = (int) (data + e.getCompressedSize() + (descriptor ? 16 : 0));
            }
            throw new AssertionError("entry " + name + " not found in " + zipPath);
        }
    }

    /** The bytes of a deflated stream, or null when it does not inflate cleanly. */
    private static byte[] inflate(byte[] deflated) {
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(deflated);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            while (!inflater.finished()) {
                int n = inflater.inflate(buf);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    return null;
                }
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        } catch (java.util.zip.DataFormatException e) {
            return null;
        } finally {
            inflater.end();
        }
    }

    /**
     * One byte changed anywhere in the data of a small .npz entry (x or y; stored or deflated) is refused, with or
     * without :N, as a damaged archive (CRC-32) or an entry that does not inflate or parse, naming the archive. The
     * one exception is a change the data does not see: the padding bits after a deflated stream's last block, which
     * inflate to the same bytes (checked here with an Inflater of its own); such an archive reads as written.
     */
    @Property(tries = 150)
    void aByteChangedInASmallNpzEntryIsRefused(@ForAll boolean deflated, @ForAll boolean inY, @ForAll long seed)
            throws IOException {
        Random r = new Random(seed);
        NpyDType type = r.nextBoolean() ? NpyDType.FLOAT32 : NpyDType.FLOAT64;
        Written x = array(type, randomShape(r, 2, 1), r, '<');
        Written y = labels(x.rows(), r);
        Path valid = npz("valid.npz", deflated, new String[] {"x", "y"}, x.npy(), y.npy());
        byte[] zip = Files.readAllBytes(valid);
        String entry = inY ? "y.npy" : "x.npy";
        long[] span = entryData(valid, zip, entry);
        int at = (int) (span[0] + r.nextInt((int) span[1]));
        byte[] original = Arrays.copyOfRange(zip, (int) span[0], (int) (span[0] + span[1]));
        zip[at] ^= (byte) (1 + r.nextInt(255));
        Path p = file("damaged.npz", zip);
        String spec = p + (r.nextBoolean() ? "" : ":" + (1 + r.nextInt(x.rows())));
        byte[] changed = Arrays.copyOfRange(zip, (int) span[0], (int) (span[0] + span[1]));
        boolean sameData = deflated && Arrays.equals(inflate(changed), inflate(original));
        if (sameData) {
            try (Dataset d = DataSource.loadDataset(spec, DType.F64, 0)) {
                assertThat(d.x().getFlat(0)).isEqualTo(x.values()[0]);
            }
            return;
        }
        assertThatThrownBy(() -> DataSource.loadDataset(spec, DType.F64, 0).close())
                .as("byte %d of %s (offset %d in the entry) changed", at, entry, at - span[0])
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(p + ", entry '" + entry + "': ").hasMessageContaining("corrupt");
    }

    // ------------------------------------------------------------------------------------------ 5: CSV cells

    private static final String[] NOT_FINITE = {"nan", "NaN", "inf", "-inf", "Infinity", "-INF", "+nan"};
    private static final String[] GARBAGE = {"abc", "1.2.3", "0x1p3", "2f", "1d", "--1", "e5", "1e", "?", "1,5"};

    /**
     * The minimal sample {@link #aBadCsvCellIsNamedByItsLineAndColumn} found (2026-12-07): a NaN cell in a column
     * whose quoted header name holds a line break was refused with the name's line break in the message (two lines).
     */
    @Example
    void aNotFiniteCellUnderANameWithALineBreakIsReportedOnOneLine() throws IOException {
        Path p = file("nan-under-break.csv", "a,\"x\ny\"\n1,nan\n".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> DataSource.loadDataset(p.toString(), DType.F64, 0).close())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(p + ": line 3, column 2 (x\\ny): 'nan' is NaN; the inputs must be finite numbers (drop or "
                        + "impute the missing values)");
    }

    /**
     * A quoted cell with a line break at the very start or end of its text (trimmed away before the number is read)
     * is named by the line it starts on, its opening quote's: found 2026-12-07, when the line was counted from the
     * record's end through the trimmed text and came out one off (line 3 for the first cell below, line 2 for the
     * second); a line break after the bad cell (in a later cell of the record) is counted too.
     */
    @Example
    void aQuotedCellWithALeadingOrTrailingLineBreakIsNamedByItsFirstLine() throws IOException {
        Path lead = file("lead.csv", "a,b\n\"\nnan\",1\n".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> DataSource.loadDataset(lead.toString(), DType.F64, 0).close())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(lead + ": line 2, column 1 (a): 'nan' is NaN;");
        Path trail = file("trail.csv", "a,b\r\n1,\"x\r\n\"\r\n".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> DataSource.loadDataset(trail.toString(), DType.F64, 0).close())
                .isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(trail + ": line 2, column 2 (b): 'x' is not a number");
        Path after = file("after.csv", "a,b\n?,\"\n\n2\n\"\n".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> DataSource.loadDataset(after.toString(), DType.F64, 0).close())
                .isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(after + ": line 2, column 1 (a): '?' is not a number");
        Path header = file("header.csv", "\"a\n\",b\n1,\"\ninf\"\n".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> DataSource.loadDataset(header.toString(), DType.F64, 0).close())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(header + ": line 3, column 2 (b): 'inf' is Infinity;");
    }

    /**
     * A small CSV table (header or none, LF or CRLF, quoted cells and header names with line breaks inside quotes,
     * quoted cells with a line break at the very start or end of their text, blank lines, a last line with or without
     * its line break) with one cell replaced by NaN, Inf or garbage: the
     * error names the file, the 1-based line (counted here as the file was written: the header line, blank lines
     * and quoted line breaks counted) and the 1-based column with its name, on one line. With :N, a cell after the
     * first N rows is not read. A file without a header is refused as such.
     */
    @Property(tries = 150)
    void aBadCsvCellIsNamedByItsLineAndColumn(@ForAll long seed) throws IOException {
        Random r = new Random(seed);
        String eol = r.nextBoolean() ? "\n" : "\r\n";
        boolean header = r.nextInt(5) > 0;
        int columns = 1 + r.nextInt(4);
        int labelColumn = r.nextBoolean() ? r.nextInt(columns + 1) : -1; // a label column among the others
        int width = columns + (labelColumn >= 0 ? 1 : 0);
        int rows = 1 + r.nextInt(5);
        List<String> names = new ArrayList<>();
        for (int c = 0, f = 0; c < width; c++) {
            names.add(c == labelColumn ? "label" : r.nextInt(4) == 0 ? "x" + f++ + eol.charAt(eol.length() - 1) + "b"
                    : "x" + f++);
        }
        String[][] cells = new String[rows][width];
        double[][] numbers = new double[rows][width];
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < width; c++) {
                numbers[i][c] = c == labelColumn ? r.nextInt(10) : Math.round(r.nextGaussian() * 1e4) / 100.0;
                cells[i][c] = c == labelColumn ? Integer.toString((int) numbers[i][c])
                        : Double.toString(numbers[i][c]);
            }
        }
        int badRow = r.nextInt(rows);
        int badColumn = r.nextInt(width);
        boolean notFinite = r.nextBoolean();
        String bad = notFinite ? NOT_FINITE[r.nextInt(NOT_FINITE.length)] : GARBAGE[r.nextInt(GARBAGE.length)];
        if (!header && badRow == 0 && !notFinite) {
            badRow = rows - 1; // a first row holding a name is a header, not data with a bad cell
            if (badRow == 0) {
                bad = "nan";
                notFinite = true;
            }
        }
        cells[badRow][badColumn] = bad;
        StringBuilder text = new StringBuilder();
        int line = 1; // the line being written, 1-based
        int badLine = -1;
        while (r.nextInt(4) == 0) {
            text.append(eol);
            line++;
        }
        if (header) {
            for (int c = 0; c < width; c++) {
                String name = names.get(c);
                boolean quote = name.indexOf('\n') >= 0 || name.indexOf('\r') >= 0 || r.nextInt(3) == 0;
                text.append(c == 0 ? "" : ",").append(quote ? "\"" + name + "\"" : name);
                line += name.chars().filter(ch -> ch == eol.charAt(eol.length() - 1)).count();
            }
            text.append(eol);
            line++;
        }
        for (int i = 0; i < rows; i++) {
            while (r.nextInt(4) == 0) {
                text.append(eol);
                line++;
            }
            for (int c = 0; c < width; c++) {
                String cell = cells[i][c];
                if (i == badRow && c == badColumn) {
                    badLine = line;
                }
                String written = r.nextInt(3) == 0 ? "\"" + cell + "\"" : r.nextInt(4) == 0 ? " " + cell + " " : cell;
                if (cell.indexOf(',') >= 0) {
                    written = "\"" + cell + "\"";
                }
                if (r.nextInt(5) == 0) { // quoted, with a line break at the very start or end of its text (trimmed)
                    boolean before = r.nextBoolean();
                    written = "\"" + (before ? eol : "") + cell + (!before || r.nextBoolean() ? eol : "") + "\"";
                }
                text.append(c == 0 ? "" : ",").append(written);
                line += written.chars().filter(ch -> ch == '\n').count(); // the cells after start lines further
            }
            if (i < rows - 1 || r.nextBoolean()) {
                text.append(eol);
                line++;
            }
        }
        while (r.nextInt(4) == 0) {
            text.append(eol);
        }
        Path p = file("table.csv", text.toString().getBytes(StandardCharsets.UTF_8));
        String what = "CSV [" + text.toString().replace("\r", "\\r").replace("\n", "\\n") + "]";
        if (!header) {
            assertThatThrownBy(() -> DataSource.loadDataset(p.toString(), DType.F64, 0).close()).as(what)
                    .isInstanceOf(DataFormatException.class).hasMessageStartingWith(p + ": the first row ")
                    .hasMessageContaining("is all numbers");
            return;
        }
        int n = r.nextBoolean() ? -1 : 1 + r.nextInt(rows);
        String spec = p + (n < 0 ? "" : ":" + n);
        if (n >= 0 && badRow >= n) {
            // the rows after the first n are not read, nor checked (docs/data.md)
            try (Dataset d = DataSource.loadDataset(spec, DType.F64, 0)) {
                assertThat(d.x().dim(0)).as(what).isEqualTo(n);
                for (int i = 0, k = 0; i < n; i++) {
                    for (int c = 0; c < width; c++) {
                        if (c != labelColumn) {
                            assertThat(d.x().getFlat(k++)).as(what).isEqualTo(numbers[i][c]);
                        } else {
                            assertThat(d.labels()[i]).as(what).isEqualTo((int) numbers[i][c]);
                        }
                    }
                }
            }
            return;
        }
        String name = names.get(badColumn).replace("\r", "\\r").replace("\n", "\\n");
        String at = p + ": line " + badLine + ", column " + (badColumn + 1) + " (" + name + ")";
        try (Dataset d = DataSource.loadDataset(spec, DType.F64, 0)) {
            throw new AssertionError(what + " loaded " + d.size() + " examples; expected a refusal at " + at);
        } catch (IOException | IllegalArgumentException e) {
            assertThat(e.getMessage()).as(what).startsWith(at).doesNotContain("\n").doesNotContain("\r");
            if (!notFinite) {
                assertThat(e.getMessage()).as(what).contains("'" + bad + "' is not a number");
            } else if (badColumn != labelColumn) {
                assertThat(e.getMessage()).as(what).contains("'" + bad + "' is " + DataSource.parseCell(bad) + ";");
            } else {
                assertThat(e.getMessage()).as(what).contains("the label column: '" + bad + "'");
            }
            assertThat(e).as(what).isInstanceOf(notFinite && badColumn != labelColumn
                    ? IllegalArgumentException.class : DataFormatException.class);
        }
    }
}
