package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Fuzzing the readers: valid files truncated anywhere, with random bytes overwritten, or random bytes after a
 * valid magic string. Each read either succeeds (a mutation can leave a valid file) or fails with the reader's
 * own clear error, an {@link IOException} ({@link NpyFormatException} for .npy/.npz,
 * {@link DataFormatException} for IDX and CSV) whose message names the file, or for data sources an
 * {@link IllegalArgumentException} with a message; never another exception (index, arithmetic, negative array
 * size, out of memory, ...).
 */
class ReaderFuzzProperties {
    private static Path dir;

    @BeforeContainer
    static void createDir() throws IOException {
        dir = Files.createTempDirectory("ntk4j-fuzz");
    }

    @AfterContainer
    static void deleteDir() throws IOException {
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(dir);
    }

    private interface Reader {
        void read(Path p) throws Exception;
    }

    /**
     * Runs {@code reader}; passes when it succeeds or throws an IOException naming the file (or, for a value the
     * tensor type cannot hold, the IllegalArgumentException that Npy.readTensor documents).
     */
    private static void readsOrFailsClearly(Path p, Reader reader) {
        try {
            reader.read(p);
        } catch (IOException | IllegalArgumentException e) {
            // IllegalArgumentException: a well-formed file with a value the tensor type cannot hold (an integer
            // beyond 2^53 for float64), as Npy.readTensor documents; named and one line all the same
            assertThat(e.getMessage()).as("message of %s thrown at %s", e,
                    Arrays.toString(Arrays.copyOf(e.getStackTrace(), 6))).isNotBlank().contains(p.toString());
            assertThat(e.getMessage().lines().count()).as("one line: %s", e.getMessage()).isEqualTo(1);
            if (e instanceof IllegalArgumentException) {
                assertThat(e.getMessage()).contains("cannot hold exactly");
            }
        } catch (Throwable t) {
            throw new AssertionError("reader of " + p + " threw " + t + " instead of a clear IOException", t);
        }
    }

    private static Path file(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private static byte[] validNpy(Random r) throws IOException {
        NpyDType[] types = NpyDType.values();
        NpyDType t = types[r.nextInt(types.length)];
        int[] shape = new int[r.nextInt(4)];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = 1 + r.nextInt(4);
        }
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        long[] v = new long[n];
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = t == NpyDType.BOOL ? r.nextInt(2) : r.nextInt(100);
            d[i] = v[i] * 0.5;
        }
        Path tmp = dir.resolve("valid-" + r.nextInt(1 << 30) + ".npy");
        Npy.write(tmp, t.isFloating() ? NpyArray.ofDoubles(t, d, shape) : NpyArray.ofLongs(t, v, shape));
        byte[] b = Files.readAllBytes(tmp);
        Files.delete(tmp);
        return b;
    }

    private static void readNpyEveryWay(Path p) throws IOException {
        readsOrFailsClearly(p, f -> Npy.read(f));
        readsOrFailsClearly(p, f -> Npy.readHeader(f));
        readsOrFailsClearly(p, f -> {
            try (Tensor t = Npy.readTensor(f, DType.F64)) {
                assertThat(t.isClosed()).isFalse();
            }
        });
    }

    @Property(tries = 150)
    void truncatedNpyFilesFailClearly(@ForAll long seed) throws IOException {
        Random r = new Random(seed);
        byte[] full = validNpy(r);
        int cut = r.nextInt(full.length); // strictly shorter than the file
        Path p = file("cut.npy", Arrays.copyOf(full, cut));
        boolean hasData = full.length > 128; // every array here has at least one element
        try {
            Npy.read(p);
            throw new AssertionError("a truncated file of " + cut + " of " + full.length + " bytes was read"
                    + (hasData ? "" : " (no data)"));
        } catch (NpyFormatException e) {
            assertThat(e.getMessage()).startsWith(p.toString()).doesNotContain("\n");
        }
    }

    @Property(tries = 300)
    void mutatedNpyFilesReadOrFailClearly(@ForAll long seed, @ForAll @IntRange(min = 1, max = 8) int flips)
            throws IOException {
        Random r = new Random(seed);
        byte[] b = validNpy(r);
        for (int i = 0; i < flips; i++) {
            int at = r.nextInt(r.nextBoolean() ? Math.min(b.length, 128) : b.length); // header more often
            b[at] = (byte) (r.nextBoolean() ? r.nextInt(256) : "{}()':,<>|0123456789 \n".charAt(r.nextInt(22)));
        }
        readNpyEveryWay(file("mutated.npy", b));
    }

    @Provide
    Arbitrary<String> headerText() {
        return Arbitraries.strings().withChars("{}()[]':,<>|=-+.0123456789 descrshapefortran_orderTrueFalseu1i8f4O")
                .ofMaxLength(120);
    }

    @Property(tries = 300)
    void randomHeadersAfterAValidMagicFailClearly(@ForAll("headerText") String header, @ForAll long seed)
            throws IOException {
        Random r = new Random(seed);
        byte[] text = header.getBytes(StandardCharsets.ISO_8859_1);
        int version = 1 + r.nextInt(3);
        int lenBytes = version == 1 ? 2 : 4;
        byte[] b = new byte[8 + lenBytes + text.length + r.nextInt(64)];
        byte[] magic = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0};
        System.arraycopy(magic, 0, b, 0, 8);
        int declared = r.nextInt(4) == 0 ? r.nextInt() : text.length;
        for (int i = 0; i < lenBytes; i++) {
            b[8 + i] = (byte) (declared >>> (8 * i));
        }
        System.arraycopy(text, 0, b, 8 + lenBytes, text.length);
        for (int i = 8 + lenBytes + text.length; i < b.length; i++) {
            b[i] = (byte) r.nextInt(256);
        }
        readNpyEveryWay(file("random-header.npy", b));
    }

    /**
     * A sample the property found (2026-12-05): a byte of an entry's header key mutated to a carriage return,
     * echoed raw in the key list of the message ("it has ['descr', 'fo\rtran_order', ...]").
     */
    @Example
    void aHeaderKeyWithACarriageReturnIsReportedOnOneLine() throws IOException {
        mutatedAndTruncatedNpzFilesFailClearly(-81797, false);
    }

    /**
     * A mutated entry name that is not valid UTF-8 (java.util.zip threw IllegalArgumentException while enumerating).
     */
    @Example
    void anEntryNameThatCannotBeDecodedIsAFormatError() throws IOException {
        mutatedAndTruncatedNpzFilesFailClearly(-113409, false);
    }

    @Property(tries = 100)
    void mutatedAndTruncatedNpzFilesFailClearly(@ForAll long seed, @ForAll boolean truncate) throws IOException {
        Random r = new Random(seed);
        Map<String, NpyArray> arrays = new LinkedHashMap<>();
        arrays.put("x", NpyArray.ofDoubles(NpyDType.FLOAT32, new double[] {1, 2, 3, 4, 5, 6}, 2, 3));
        arrays.put("y", NpyArray.ofLongs(NpyDType.INT64, new long[] {1, 0}, 2));
        Path valid = dir.resolve("valid.npz");
        Npz.writeArrays(valid, arrays);
        byte[] b = Files.readAllBytes(valid);
        if (truncate) {
            b = Arrays.copyOf(b, r.nextInt(b.length));
        } else {
            for (int i = 0, n = 1 + r.nextInt(6); i < n; i++) {
                b[r.nextInt(b.length)] = (byte) r.nextInt(256);
            }
        }
        Path p = file("fuzz.npz", b);
        readsOrFailsClearly(p, f -> Npz.read(f));
        readsOrFailsClearly(p, f -> Npz.readTensors(f, DType.F32).values().forEach(Tensor::close));
    }

    @Property(tries = 200)
    void mutatedAndTruncatedIdxFilesFailClearly(@ForAll long seed, @ForAll boolean gzip,
            @ForAll @IntRange(min = 0, max = 2) int damage) throws IOException {
        Random r = new Random(seed);
        int n = 1 + r.nextInt(5);
        int[] v = new int[n * 3 * 2];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt(256);
        }
        byte[] b = IdxFiles.u8(v, n, 3, 2);
        if (damage == 1 || damage == 2 && !gzip) {
            for (int i = 0, k = 1 + r.nextInt(4); i < k; i++) {
                b[r.nextInt(Math.min(b.length, r.nextBoolean() ? 16 : b.length))] = (byte) r.nextInt(256);
            }
        }
        if (gzip) {
            b = IdxFiles.gzip(b);
        }
        if (damage == 2) {
            if (gzip) {
                b[r.nextInt(b.length)] = (byte) r.nextInt(256); // corrupt the compressed stream
            }
            b = Arrays.copyOf(b, r.nextInt(b.length));
        }
        Path p = file(gzip ? "fuzz-idx.gz" : "fuzz-idx", b);
        readsOrFailsClearly(p, f -> {
            try (Tensor t = Idx.read(f, DType.F32, -1)) {
                assertThat(t.isClosed()).isFalse();
            }
        });
        readsOrFailsClearly(p, f -> Idx.readLabels(f, -1));
        readsOrFailsClearly(p, Idx::readHeader);
    }

    @Provide
    Arbitrary<String> csvText() {
        return Arbitraries.strings().withChars("abl,\"\n\r 0123456789.-+eENaInfity").ofMaxLength(80)
                .map(s -> (s.length() % 3 == 0 ? "a,label\n" : "") + s);
    }

    /** The shrunk samples fuzz runs found: quoted cells with line breaks were echoed into the error verbatim. */
    @Example
    void quotedCellsWithLineBreaksAreReportedOnOneLine() throws IOException {
        Path p = file("breaks.csv", "a,label\n\"x\ny\",1\n".getBytes(StandardCharsets.UTF_8));
        try (Dataset d = DataSource.loadDataset(p.toString(), DType.F64, 0)) {
            throw new AssertionError("loaded " + d.size() + " examples from a CSV whose cell is not a number");
        } catch (IOException | IllegalArgumentException e) {
            assertThat(e.getMessage()).contains("'x\\ny' is not a number").doesNotContain("\n");
        }
        Path h = file("header.csv", ",\"a\nb\"\n1,2\n".getBytes(StandardCharsets.UTF_8));
        try (Dataset d = DataSource.loadDataset(h.toString(), DType.F64, 0)) {
            throw new AssertionError("loaded " + d.size() + " examples from a CSV with a missing header name");
        } catch (IOException | IllegalArgumentException e) {
            assertThat(e.getMessage()).contains("header name is missing").contains("a\\nb").doesNotContain("\n");
        }
    }

    @Property(tries = 300)
    void randomCsvLoadsOrFailsWithOneLine(@ForAll("csvText") String text) throws IOException {
        Path p = file("fuzz.csv", text.getBytes(StandardCharsets.UTF_8));
        try (Dataset d = DataSource.loadDataset(p.toString(), DType.F64, 0)) {
            assertThat(d.size()).isPositive();
        } catch (IOException | IllegalArgumentException e) {
            assertThat(e.getMessage()).isNotBlank().contains(p.toString()).doesNotContain("\n");
        } catch (Throwable t) {
            throw new AssertionError("CSV " + p + " with text [" + text + "] threw " + t, t);
        }
    }
}
