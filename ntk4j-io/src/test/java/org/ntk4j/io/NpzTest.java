package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.io.RawNpy.dict;
import static org.ntk4j.io.RawNpy.f8;
import static org.ntk4j.io.RawNpy.npy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class NpzTest {
    @TempDir
    Path dir;

    @Test
    void roundTripKeepsInsertionOrderAndValues() throws IOException {
        Path file = dir.resolve("model.npz");
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("z_last_alphabetically", Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        out.put("layers/0/w", Tensor.of(new double[] {0.5, -0.25}, 2, 1));
        out.put("a", Tensor.scalar(DType.F32, 7));
        out.put("empty", Tensor.zeros(DType.F64, 0, 4));
        try {
            Npz.write(file, out);
        } finally {
            out.values().forEach(Tensor::close);
        }

        try (ZipFile zip = new ZipFile(file.toFile())) {
            List<String> names = new ArrayList<>();
            for (ZipEntry e : Collections.list(zip.entries())) {
                names.add(e.getName());
                assertThat(e.getMethod()).as(e.getName()).isEqualTo(ZipEntry.STORED);
            }
            assertThat(names).containsExactly("z_last_alphabetically.npy", "layers/0/w.npy", "a.npy", "empty.npy");
            // Each entry is byte for byte the .npy file Npy.write produces.
            Path single = dir.resolve("single.npy");
            try (Tensor t = Tensor.of(new double[] {0.5, -0.25}, 2, 1)) {
                Npy.write(single, t);
            }
            try (var in = zip.getInputStream(zip.getEntry("layers/0/w.npy"))) {
                assertThat(in.readAllBytes()).isEqualTo(Files.readAllBytes(single));
            }
        }

        Map<String, NpyArray> arrays = Npz.read(file);
        assertThat(arrays).isInstanceOf(LinkedHashMap.class);
        assertThat(arrays.keySet()).containsExactly("z_last_alphabetically", "layers/0/w", "a", "empty");
        assertThat(arrays.get("z_last_alphabetically").dtype()).isEqualTo(NpyDType.FLOAT32);
        assertThat(arrays.get("z_last_alphabetically").shape()).containsExactly(2, 3);
        assertThat(arrays.get("z_last_alphabetically").toDoubleArray()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(arrays.get("layers/0/w").dtype()).isEqualTo(NpyDType.FLOAT64);
        assertThat(arrays.get("layers/0/w").toDoubleArray()).containsExactly(0.5, -0.25);
        assertThat(arrays.get("a").rank()).isZero();
        assertThat(arrays.get("a").getDouble(0)).isEqualTo(7);
        assertThat(arrays.get("empty").shape()).containsExactly(0, 4);

        Map<String, Tensor> tensors = Npz.readTensors(file, DType.F64);
        try {
            assertThat(tensors.keySet()).containsExactly("z_last_alphabetically", "layers/0/w", "a", "empty");
            assertThat(tensors.values()).allSatisfy(t -> assertThat(t.dtype()).isEqualTo(DType.F64));
            assertThat(tensors.get("z_last_alphabetically").get(1, 2)).isEqualTo(6);
        } finally {
            tensors.values().forEach(Tensor::close);
        }

        Map<String, NpyHeader> headers = Npz.readHeaders(file);
        assertThat(headers.keySet()).containsExactly("z_last_alphabetically", "layers/0/w", "a", "empty");
        assertThat(headers.get("layers/0/w").shape()).containsExactly(2, 1);
        assertThat(headers.get("layers/0/w").descr()).isEqualTo("<f8");
    }

    @Test
    void integerArraysRoundTripAndConvert() throws IOException {
        Path file = dir.resolve("data.npz");
        Map<String, NpyArray> out = new LinkedHashMap<>();
        out.put("labels", NpyArray.ofLongs(NpyDType.INT64, new long[] {3, 1, 4, 1, 5}, 5));
        out.put("images", NpyArray.ofLongs(NpyDType.UINT8, new long[] {0, 128, 255, 7}, 1, 2, 2));
        out.put("mask", NpyArray.ofLongs(NpyDType.BOOL, new long[] {1, 0}, 2));
        Npz.writeArrays(file, out);

        Map<String, NpyArray> back = Npz.read(file);
        assertThat(back.keySet()).containsExactly("labels", "images", "mask");
        assertThat(back.get("labels").dtype()).isEqualTo(NpyDType.INT64);
        assertThat(back.get("labels").toLongArray()).containsExactly(3, 1, 4, 1, 5);
        assertThat(back.get("images").descr()).isEqualTo("|u1");
        assertThat(back.get("images").toLongArray()).containsExactly(0, 128, 255, 7);
        assertThat(back.get("mask").toLongArray()).containsExactly(1, 0);

        Map<String, Tensor> tensors = Npz.readTensors(file, DType.F32);
        try {
            assertThat(tensors.get("images").shape()).containsExactly(1, 2, 2);
            assertThat(tensors.get("images").toFloatArray()).containsExactly(0, 128, 255, 7);
            assertThat(tensors.get("labels").toFloatArray()).containsExactly(3, 1, 4, 1, 5);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
    }

    @Test
    void largeEntriesStreamAndKeepTheirCrc() throws IOException {
        int n = 3 * NpyIO.CHUNK_BYTES / 8 + 11;
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = Math.sin(i);
        }
        Path file = dir.resolve("big.npz");
        try (Tensor t = Tensor.of(values, n)) {
            Npz.write(file, Map.of("x", t));
        }
        // ZipInputStream checks each stored entry's CRC-32 and size against the data.
        try (var in = new java.util.zip.ZipInputStream(Files.newInputStream(file))) {
            ZipEntry e = in.getNextEntry();
            assertThat(e.getName()).isEqualTo("x.npy");
            assertThat(in.readAllBytes()).hasSize(128 + 8 * n);
        }
        Map<String, Tensor> back = Npz.readTensors(file, DType.F64);
        try (Tensor x = back.get("x")) {
            ArrayAsserts.assertSameElements("x", x.toDoubleArray(), values);
        }
    }

    /** np.savez_compressed writes deflated entries; they read the same as stored ones. */
    @Test
    void readsDeflatedEntries() throws IOException {
        Path file = dir.resolve("compressed.npz");
        try (OutputStream os = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(os)) {
            zip.setMethod(ZipOutputStream.DEFLATED);
            zip.putNextEntry(new ZipEntry("w.npy"));
            zip.write(npy(dict("<f8", "(3,)"), f8(1, 2, 3)));
            zip.closeEntry();
            zip.putNextEntry(new ZipEntry("notes.txt"));
            zip.write("not an array".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            zip.closeEntry();
            zip.putNextEntry(new ZipEntry("sub/"));
            zip.closeEntry();
            zip.putNextEntry(new ZipEntry("sub/b.npy"));
            zip.write(npy(dict("<f8", "()"), f8(4)));
            zip.closeEntry();
        }
        Map<String, NpyArray> arrays = Npz.read(file);
        assertThat(arrays.keySet()).containsExactly("w", "sub/b");
        assertThat(arrays.get("w").toDoubleArray()).containsExactly(1, 2, 3);
        assertThat(arrays.get("sub/b").toDoubleArray()).containsExactly(4);
    }

    @Test
    void errorsNameTheArchiveAndTheEntry() throws IOException {
        Path file = dir.resolve("bad.npz");
        try (OutputStream os = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(os)) {
            zip.putNextEntry(new ZipEntry("good.npy"));
            zip.write(npy(dict("<f8", "(1,)"), f8(1)));
            zip.closeEntry();
            zip.putNextEntry(new ZipEntry("big_endian.npy"));
            zip.write(npy(dict(">f8", "(1,)"), new byte[8]));
            zip.closeEntry();
        }
        assertThatThrownBy(() -> Npz.read(file))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(file + ", entry 'big_endian.npy': big-endian data ('>f8')");
        assertThatThrownBy(() -> Npz.readTensors(file, DType.F32))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("entry 'big_endian.npy'");

        Path truncated = dir.resolve("truncated.npz");
        try (OutputStream os = Files.newOutputStream(truncated); ZipOutputStream zip = new ZipOutputStream(os)) {
            zip.putNextEntry(new ZipEntry("x.npy"));
            zip.write(npy(dict("<f8", "(4,)"), f8(1, 2, 3)));
            zip.closeEntry();
        }
        assertThatThrownBy(() -> Npz.readTensors(truncated, DType.F64))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(truncated + ", entry 'x.npy': truncated .npy file: shape (4,) of '<f8' needs 32 data"
                        + " bytes after the 128-byte header, the file has only 24");
    }

    @Test
    void aFileThatIsNotAZipIsRejected() throws IOException {
        Path npyFile = dir.resolve("a.npz");
        try (Tensor t = Tensor.zeros(DType.F32, 2)) {
            Npy.write(npyFile, t);
        }
        assertThatThrownBy(() -> Npz.read(npyFile))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(npyFile + ": not a .npz file")
                .hasMessageContaining("it is a .npy file: read it with Npy.read");
        Path text = Files.writeString(dir.resolve("t.npz"), "just text");
        assertThatThrownBy(() -> Npz.read(text))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(text + ": not a .npz file");
    }

    @Test
    void invalidKeysAndClosedTensorsAreRejectedBeforeWriting() throws IOException {
        Path file = dir.resolve("k.npz");
        try (Tensor t = Tensor.zeros(DType.F32, 1)) {
            assertThatThrownBy(() -> Npz.write(file, Map.of("", t)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("non-empty");
        }
        Tensor closed = Tensor.zeros(DType.F32, 1);
        closed.close();
        assertThatThrownBy(() -> Npz.write(file, Map.of("w", closed)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'w' is closed");
        assertThat(file).doesNotExist();
    }

    @Test
    void aDamagedStoredEntryFailsItsCrcCheck() throws IOException {
        Path file = dir.resolve("params.npz");
        double[] values = {1, 2, 3, 4, 5, 6, 7, 8};
        Map<String, NpyArray> arrays = new LinkedHashMap<>();
        arrays.put("b", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {9}, 1));
        arrays.put("w", NpyArray.ofDoubles(NpyDType.FLOAT64, values, 4, 2));
        Npz.writeArrays(file, arrays); // stored entries, as np.savez writes them
        long recorded;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            assertThat(zip.getEntry("w.npy").getMethod()).isEqualTo(ZipEntry.STORED);
            recorded = zip.getEntry("w.npy").getCrc();
        }
        byte[] bytes = Files.readAllBytes(file);
        byte[] data = f8(values);
        int at = -1;
        for (int i = 0; i + data.length <= bytes.length && at < 0; i++) {
            at = Arrays.equals(bytes, i, i + data.length, data, 0, data.length) ? i : -1;
        }
        bytes[at + 8 * 6 + 7] ^= 0x40; // the sign and exponent of w[3, 0]: 7.0 becomes another number
        Files.write(file, bytes);
        long actual;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            CRC32 crc = new CRC32();
            crc.update(zip.getInputStream(zip.getEntry("w.npy")).readAllBytes()); // java.util.zip does not check
            actual = crc.getValue();
        }
        String message = file + ", entry 'w.npy': corrupt .npz archive: the entry's data has CRC-32 "
                + String.format("%08x", actual) + ", the archive records " + String.format("%08x", recorded)
                + " (the file is damaged)";
        assertThatThrownBy(() -> Npz.read(file)).isInstanceOf(NpyFormatException.class).hasMessage(message);
        assertThatThrownBy(() -> Npz.readTensors(file, DType.F64)).isInstanceOf(NpyFormatException.class)
                .hasMessage(message);
        // the data source reads w as x: only its first row asked for, the rest is still checked
        assertThatThrownBy(() -> DataSource.loadDataset(file + ":x=w:1", DType.F64, 0))
                .isInstanceOf(NpyFormatException.class).hasMessage(message);
        // headers alone (for planning) read no data, and check none
        assertThat(Npz.readHeaders(file).get("w").shape()).containsExactly(4, 2);
        assertThat(Npz.keys(file)).containsExactly("b", "w");
    }

    /**
     * Damage the reader trips on before the entry's end, where its CRC-32 is checked: a header byte (a "malformed
     * .npy header") or a value (one beyond float32's range) is reported as the damage it is, after the entry is
     * read to its end (before 2026-12-07 the reader's own refusal was, as if the file had been written so).
     */
    @Test
    void damageTheReaderRefusesIsReportedAsDamage() throws IOException {
        Path file = dir.resolve("x.npz");
        Map<String, NpyArray> arrays = new LinkedHashMap<>();
        arrays.put("x", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {1, 2, 3, 4}, 2, 2));
        Npz.writeArrays(file, arrays);
        byte[] original = Files.readAllBytes(file);
        long recorded;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            recorded = zip.getEntry("x.npy").getCrc();
        }
        byte[] header = "'fortran_order': False".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] value = f8(1);
        for (boolean inHeader : new boolean[] {true, false}) {
            byte[] bytes = original.clone();
            byte[] find = inHeader ? header : value;
            int at = -1;
            for (int i = 0; i + find.length <= bytes.length && at < 0; i++) {
                at = Arrays.equals(bytes, i, i + find.length, find, 0, find.length) ? i : -1;
            }
            if (inHeader) {
                bytes[at + find.length - 3] = 'k'; // False becomes Fakse
            } else {
                bytes[at + 7] = 0x47; // 1.0 (3ff0...) becomes 2^128, beyond float32's range
            }
            Files.write(file, bytes);
            long actual;
            try (ZipFile zip = new ZipFile(file.toFile())) {
                CRC32 crc = new CRC32();
                crc.update(zip.getInputStream(zip.getEntry("x.npy")).readAllBytes());
                actual = crc.getValue();
            }
            String message = file + ", entry 'x.npy': corrupt .npz archive: the entry's data has CRC-32 "
                    + String.format("%08x", actual) + ", the archive records " + String.format("%08x", recorded)
                    + " (the file is damaged)";
            assertThatThrownBy(() -> Npz.readTensors(file, DType.F32)).as("header %s", inHeader)
                    .isInstanceOf(NpyFormatException.class).hasMessage(message);
            assertThatThrownBy(() -> DataSource.loadDataset(file + ":1", DType.F32, 0)).as("header %s", inHeader)
                    .isInstanceOf(NpyFormatException.class).hasMessage(message);
        }
        // an entry written so, its CRC-32 its own, keeps the reader's refusal
        Path wide = dir.resolve("wide.npz");
        Npz.writeArrays(wide, Map.of("x", NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {1, 1e39}, 1, 2)));
        assertThatThrownBy(() -> DataSource.loadDataset(wide.toString(), DType.F32, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(wide + ", entry 'x.npy': element 1 is 1.0E39, beyond float32's range");
    }
}
