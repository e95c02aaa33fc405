package org.ntk4j.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;
import java.util.zip.CRC32;
import java.util.zip.CheckedInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Reads and writes NumPy {@code .npz} archives: a zip file with one {@code .npy} entry per array, named
 * {@code KEY.npy}, as {@code np.savez} writes them (keys may contain {@code '/'}).
 *
 * <p><b>Writing</b> keeps the map's iteration order (use a {@link LinkedHashMap} for a chosen order) and stores
 * the entries uncompressed ({@link ZipEntry#STORED}), exactly like {@code np.savez}, rather than deflated like
 * {@code np.savez_compressed}. The arrays ntk4j writes are floating-point kernels, features and parameters whose
 * mantissas are close to random: deflate saves little on them (typically under 10%) while costing a single core
 * tens of seconds per gigabyte on both write and read, and stored entries can be copied in one pass. Each
 * entry's size and CRC-32 are computed in a first pass over the data (cheap: the data is in memory), so that
 * the archive has no data descriptors. Archives over 4 GiB use zip64, as Java's zip writer does automatically.
 *
 * <p><b>Reading</b> accepts stored and deflated entries (so {@code np.savez_compressed} files too), in the
 * archive's order; entries whose names do not end in {@code .npy} (and directories) are skipped. Each
 * {@code .npy} entry is read as {@link Npy} reads a file, and errors name the archive and the entry. Every entry
 * whose data is read is read to its end and its CRC-32 compared with the one the archive records (java.util.zip
 * checks none for stored entries): a damaged archive is an error, not data ({@link #readHeaders} reads no data and
 * checks none). {@link #keys} lists the arrays without reading any.
 */
public final class Npz {
    private static final String SUFFIX = ".npy";

    /**
     * The largest entry (uncompressed bytes) read to its end for its CRC-32 when only its first rows are asked for:
     * 2^31-1, what one tensor holds. Every entry that could be read whole is checked as before; a larger one (a
     * 10 GB array of features, of which {@code :1000} asks for 8 MB) would cost reading gigabytes for the check.
     */
    static final long CHECKED_PART_BYTES = Integer.MAX_VALUE;

    private Npz() {
    }

    /**
     * Writes {@code tensors} as {@code <f4}/{@code <f8} entries {@code KEY.npy}, in the map's order, replacing
     * {@code path} whole or not at all ({@link AtomicFile}).
     *
     * @param path the archive to create or replace
     * @param tensors the arrays by key; the tensors are left open
     * @throws IllegalArgumentException if a key is null or empty, or a tensor is null or closed
     * @throws IOException if the file cannot be written
     */
    public static void write(Path path, Map<String, Tensor> tensors) throws IOException {
        Objects.requireNonNull(tensors, "tensors");
        List<Pending> entries = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String key = checkKey(e.getKey());
            Tensor t = e.getValue();
            if (t == null || t.isClosed()) {
                throw new IllegalArgumentException("Npz.write: the tensor for key '" + key + "' is "
                        + (t == null ? "null" : "closed"));
            }
            entries.add(new Pending(key, Npy.fileBytes(NpyDType.of(t.dtype()), t.shape(), t.size()),
                    channel -> Npy.write(channel, t)));
        }
        writeEntries(path, entries);
    }

    /**
     * Writes {@code arrays} in their own dtypes as entries {@code KEY.npy}, in the map's order, replacing
     * {@code path} whole or not at all ({@link AtomicFile}).
     *
     * @param path the archive to create or replace
     * @param arrays the arrays by key
     * @throws IllegalArgumentException if a key is null or empty, or an array is null
     * @throws IOException if the file cannot be written
     */
    public static void writeArrays(Path path, Map<String, NpyArray> arrays) throws IOException {
        Objects.requireNonNull(arrays, "arrays");
        List<Pending> entries = new ArrayList<>();
        for (Map.Entry<String, NpyArray> e : arrays.entrySet()) {
            String key = checkKey(e.getKey());
            NpyArray a = e.getValue();
            if (a == null) {
                throw new IllegalArgumentException("Npz.writeArrays: the array for key '" + key + "' is null");
            }
            entries.add(new Pending(key, Npy.fileBytes(a.dtype(), a.shape(), a.size()),
                    channel -> Npy.write(channel, a)));
        }
        writeEntries(path, entries);
    }

    /**
     * Every {@code .npy} entry, in the archive's order, keyed by its name without {@code .npy}.
     *
     * @param path the archive
     * @return the arrays in their own dtypes, in an insertion-ordered map
     * @throws NpyFormatException if the archive or an entry cannot be read as such (naming the entry)
     * @throws IOException if the file cannot be read
     */
    public static Map<String, NpyArray> read(Path path) throws IOException {
        return readAll(path, key -> true, false, Npy::read, null, null);
    }

    /**
     * The keys of the archive's {@code .npy} entries (names without {@code .npy}), in archive order, from the
     * zip directory alone: no entry is read.
     *
     * @param path the archive
     * @return the keys
     * @throws NpyFormatException if the file is not a readable zip archive
     * @throws IOException if the file cannot be read
     */
    public static List<String> keys(Path path) throws IOException {
        try (ZipFile zip = open(path)) {
            List<String> keys = new ArrayList<>();
            for (ZipEntry entry : npyEntries(zip, path)) {
                keys.add(entry.getName().substring(0, entry.getName().length() - SUFFIX.length()));
            }
            return keys;
        }
    }

    /**
     * The {@code .npy} entries whose keys {@code wanted} accepts, in archive order, as {@link #read} reads them; the
     * others are not read.
     */
    static Map<String, NpyArray> read(Path path, Predicate<String> wanted) throws IOException {
        return readAll(path, wanted, false, Npy::read, null, null);
    }

    /**
     * A digest of the archive's zip directory alone: SHA-256, in hex, of each {@code .npy} entry's name, size and
     * CRC-32 in archive order. No entry is read, so it costs no more than {@link #keys}; two archives with the same
     * arrays written by {@link #write} have the same digest, and an archive with another value anywhere (another
     * CRC-32) almost surely another. How a checkpoint's state file names the parameter file it belongs to.
     */
    static String directoryDigest(Path path) throws IOException {
        java.security.MessageDigest sha;
        try {
            sha = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e); // every JVM must have it
        }
        try (ZipFile zip = open(path)) {
            for (ZipEntry entry : npyEntries(zip, path)) {
                sha.update((entry.getName() + " " + entry.getSize() + " " + Long.toHexString(entry.getCrc()) + "\n")
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
        }
        return java.util.HexFormat.of().formatHex(sha.digest());
    }

    /**
     * The entry {@code key} read by {@code reader} (with its CRC-32 checked), or null when the archive has no
     * such entry; no other entry is read.
     */
    static <T> T readEntry(Path path, String key, EntryReader<T> reader, Release<T> release) throws IOException {
        return readAll(path, key::equals, false, reader, release, null).get(key);
    }

    /**
     * As {@link #readEntry(Path, String, EntryReader, Release)}, for a reader that may read only the first rows of
     * the entry's array ({@code PATH.npz:N}). The rest of an entry read in part (as {@code partial} says) is still
     * read for its CRC-32 when the entry is at most {@link #CHECKED_PART_BYTES}; a larger one, more than one tensor
     * holds, is read only as far as the rows asked for, and its CRC-32, which covers the whole entry, is not checked:
     * a stored entry's first bytes are read where they lie in the file, a deflated one is inflated only that far.
     */
    static <T> T readEntry(Path path, String key, EntryReader<T> reader, Release<T> release, Predicate<T> partial)
            throws IOException {
        return readAll(path, key::equals, false, reader, release, partial).get(key);
    }

    /**
     * Every {@code .npy} entry converted to a new tensor of {@code dtype} (integer entries included), in the
     * archive's order. The caller closes the tensors; if any entry fails, those already read are closed.
     *
     * @param path the archive
     * @param dtype the tensor type
     * @return the tensors keyed by entry name without {@code .npy}, in an insertion-ordered map
     * @throws NpyFormatException if the archive or an entry cannot be read as such (naming the entry)
     * @throws IOException if the file cannot be read
     */
    public static Map<String, Tensor> readTensors(Path path, DType dtype) throws IOException {
        Objects.requireNonNull(dtype, "dtype");
        return readAll(path, key -> true, false,
                (channel, source, size) -> Npy.readTensor(channel, source, dtype, size), Tensor::close, null);
    }

    /**
     * The header of every {@code .npy} entry (dtype and shape, without reading the data), in archive order.
     *
     * @param path the archive
     * @return the headers keyed by entry name without {@code .npy}, in an insertion-ordered map
     * @throws NpyFormatException if the archive or an entry header cannot be read, or an entry is truncated
     * @throws IOException if the file cannot be read
     */

    public static Map<String, NpyHeader> readHeaders(Path path) throws IOException {
        // headers only (for planning): the data, and so the entries' CRC-32, are not read
        return readAll(path, key -> true, true, (channel, source, size) -> {
            NpyHeader header = NpyHeader.read(channel, source, NpyIO.chunk());
            NpyIO.requireData(header, source, size);
            return header;
        }, null, null);
    }

    // ---------------------------------------------------------------------------------------------- writing

    private interface EntryWriter {
        void write(WritableByteChannel channel) throws IOException;
    }

    private static final class Pending {
        final String key;
        final long bytes;
        final EntryWriter writer;

        Pending(String key, long bytes, EntryWriter writer) {
            this.key = key;
            this.bytes = bytes;
            this.writer = writer;
        }
    }

    private static String checkKey(String key) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("Npz: array keys must be non-empty strings, got "
                    + (key == null ? "null" : "''"));
        }
        return key;
    }

    private static void writeEntries(Path path, List<Pending> entries) throws IOException {
        AtomicFile.write(path, channel -> writeEntries(Channels.newOutputStream(channel), entries));
    }

    private static void writeEntries(OutputStream file, List<Pending> entries) throws IOException {
        try (ZipOutputStream zip = new ZipOutputStream(new BufferedOutputStream(file, 1 << 16))) {
            WritableByteChannel out = Channels.newChannel(zip);
            for (Pending p : entries) {
                CrcChannel crc = new CrcChannel();
                p.writer.write(crc);
                if (crc.count != p.bytes) {
                    throw new IllegalStateException("Npz: entry '" + p.key + "' produced " + crc.count
                            + " bytes, expected " + p.bytes);
                }
                ZipEntry entry = new ZipEntry(p.key + SUFFIX);
                entry.setMethod(ZipEntry.STORED);
                entry.setSize(p.bytes);
                entry.setCompressedSize(p.bytes);
                entry.setCrc(crc.crc.getValue());
                zip.putNextEntry(entry);
                p.writer.write(out);
                zip.closeEntry();
            }
        }
    }

    /** A channel that only counts bytes and computes their CRC-32 (for stored entries, which need both first). */
    private static final class CrcChannel implements WritableByteChannel {
        final CRC32 crc = new CRC32();
        long count;

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            crc.update(src);
            count += n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    // ---------------------------------------------------------------------------------------------- reading

    interface EntryReader<T> {
        T read(ReadableByteChannel channel, String source, long size) throws IOException;
    }

    interface Release<T> {
        void release(T value);
    }

    /**
     * Reads the {@code .npy} entries whose keys {@code wanted} accepts, in archive order; the others are not read
     * (nor decoded, so an entry of a dtype ntk4j cannot read does not stop the others). Each entry read is read to
     * its end and its CRC-32 compared with the one the archive records: java.util.zip checks none for stored
     * entries (np.savez's), so a damaged byte would otherwise pass as data. {@code headersOnly}: the reader reads
     * the header alone, and neither the rest nor the CRC-32 is read; likewise for a value that {@code partial}
     * (null: none) says was read in part (the first rows of an array).
     */
    private static <T> Map<String, T> readAll(Path path, Predicate<String> wanted, boolean headersOnly,
                                              EntryReader<T> reader, Release<T> release, Predicate<T> partial)
            throws IOException {
        Map<String, T> result = new LinkedHashMap<>();
        boolean ok = false;
        try (ZipFile zip = open(path)) {
            for (ZipEntry entry : npyEntries(zip, path)) {
                String name = entry.getName();
                String key = name.substring(0, name.length() - SUFFIX.length());
                if (!wanted.test(key)) {
                    continue;
                }
                String source = path + ", entry '" + name + "'";
                if (result.containsKey(key)) {
                    throw new NpyFormatException(source + ": the archive has two entries named '" + name + "'");
                }
                T value = null;
                try (InputStream raw = zip.getInputStream(entry);
                     CheckedInputStream in = new CheckedInputStream(raw, new CRC32())) {
                    // an entry read in part that is too large for its CRC-32 to be checked skips what it passes over
                    // (the rows of a Fortran-order array not asked for) without reading it, where it is stored
                    boolean unchecked = partial != null && entry.getSize() > CHECKED_PART_BYTES;
                    value = reader.read(new EntryChannel(in, raw, unchecked && entry.getMethod() == ZipEntry.STORED),
                            source, entry.getSize());
                    boolean whole = !headersOnly && (partial == null || entry.getSize() <= CHECKED_PART_BYTES
                            || !partial.test(value));
                    if (whole) {
                        in.transferTo(OutputStream.nullOutputStream()); // the rest of the entry, for its CRC-32
                    }
                    long recorded = entry.getCrc();
                    long actual = in.getChecksum().getValue();
                    if (whole && recorded != -1 && recorded != actual) {
                        throw new NpyFormatException(source + ": corrupt .npz archive: the entry's data has CRC-32 "
                                + String.format("%08x", actual) + ", the archive records " + String.format("%08x",
                                recorded) + " (the file is damaged)");
                    }
                    result.put(key, value);
                    value = null;
                } catch (ZipException e) {
                    throw new NpyFormatException(source + ": corrupt zip entry: " + e.getMessage(), e);
                } catch (NpyFormatException | IllegalArgumentException e) {
                    // a value the reader refuses (beyond float32's range, an integer float32 cannot hold) may be
                    // garbage from a damaged entry too
                    // (not for an entry read in part that is larger than anything read whole, over 2^31-1 bytes:
                    // reading gigabytes to its end would cost what reading in part spares)
                    boolean huge = partial != null && entry.getSize() > CHECKED_PART_BYTES;
                    NpyFormatException damaged = headersOnly || huge ? null : damage(zip, entry, source, e);
                    if (damaged != null) {
                        throw damaged;
                    }
                    throw e;
                } catch (java.io.EOFException e) {
                    // The zip's directory points past the end of the file (java.util.zip says only "EOF").
                    throw new NpyFormatException(source + ": truncated or corrupt .npz archive: the entry's data "
                            + "runs past the end of the file", e);
                } catch (IOException e) {
                    throw new NpyFormatException(source + ": cannot read the zip entry: " + e, e);
                } finally {
                    if (value != null && release != null) {
                        release.release(value);
                    }
                }
            }
            ok = true;
            return result;
        } finally {
            if (!ok && release != null) {
                for (T value : result.values()) {
                    release.release(value);
                }
            }
        }
    }

    /**
     * An entry's data as a channel, read through its CRC-32 ({@code in}), that can pass over bytes
     * ({@link NpyIO.Skipping}, for a Fortran-order array read in part): by a skip of the stored entry's raw stream,
     * which reads nothing, when {@code skipRaw} (an entry whose CRC-32 is not checked, so whose bytes need not all be
     * read), else by reading them (through the CRC-32; a deflated entry must be inflated anyway).
     */
    private static final class EntryChannel implements ReadableByteChannel, NpyIO.Skipping {
        private final InputStream in;
        private final InputStream raw;
        private final boolean skipRaw;
        private final ReadableByteChannel channel;
        private byte[] dropped;

        EntryChannel(InputStream in, InputStream raw, boolean skipRaw) {
            this.in = in;
            this.raw = raw;
            this.skipRaw = skipRaw;
            this.channel = Channels.newChannel(in);
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return channel.read(dst);
        }

        @Override
        public long skip(long bytes) throws IOException {
            long done = 0;
            if (skipRaw) {
                while (done < bytes) {
                    long n = raw.skip(bytes - done);
                    if (n <= 0) {
                        break;
                    }
                    done += n;
                }
                return done;
            }
            if (dropped == null) {
                dropped = new byte[1 << 16];
            }
            while (done < bytes) {
                int n = in.read(dropped, 0, (int) Math.min(dropped.length, bytes - done));
                if (n < 0) {
                    break;
                }
                done += n;
            }
            return done;
        }

        @Override
        public boolean isOpen() {
            return channel.isOpen();
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    /**
     * The damage behind the refusal {@code e} of an entry's reader, when the entry's bytes do not match the CRC-32
     * the archive records for them (null when they match, or no CRC-32 is recorded): a bit flipped inside a
     * deflated entry (np.savez_compressed) made its reader refuse a "malformed .npy header" ({@code
     * 'fortran_order': Fak+e}) of a file that was written whole and damaged since. The entry is read again from its
     * start, to its end, to check it.
     */
    private static NpyFormatException damage(ZipFile zip, ZipEntry entry, String source, Exception e) {
        long recorded = entry.getCrc();
        if (recorded == -1) {
            return null;
        }
        try (CheckedInputStream in = new CheckedInputStream(zip.getInputStream(entry), new CRC32())) {
            in.transferTo(OutputStream.nullOutputStream());
            long actual = in.getChecksum().getValue();
            return actual == recorded ? null : new NpyFormatException(source + ": corrupt .npz archive: the entry's "
                    + "data has CRC-32 " + String.format("%08x", actual) + ", the archive records "
                    + String.format("%08x", recorded) + " (the file is damaged)", e);
        } catch (IOException unreadable) {
            // the deflated data itself is damaged ("invalid stored block lengths") or ends early
            return new NpyFormatException(source + ": corrupt zip entry: " + unreadable.getMessage()
                    + " (the file is damaged)", e);
        }
    }

    /** The archive's {@code .npy} entries in archive order (directories and other names skipped). */
    private static List<ZipEntry> npyEntries(ZipFile zip, Path path) throws NpyFormatException {
        List<ZipEntry> found = new ArrayList<>();
        Enumeration<? extends ZipEntry> entries = zip.entries();
        while (entries.hasMoreElements()) {
            ZipEntry entry;
            try {
                entry = entries.nextElement();
            } catch (IllegalArgumentException e) {
                // java.util.zip decodes each entry's name as it enumerates them; a name that is not valid in
                // the archive's encoding (a damaged directory) fails there with an unchecked exception
                throw new NpyFormatException(path + ": corrupt .npz archive: an entry's name cannot be decoded ("
                        + e.getMessage() + ")", e);
            }
            if (!entry.isDirectory() && entry.getName().endsWith(SUFFIX)) {
                found.add(entry);
            }
        }
        return found;
    }

    private static ZipFile open(Path path) throws IOException {
        if (Files.exists(path) && !Files.isDirectory(path) && !Files.isRegularFile(path)) {
            // a pipe (/dev/stdin) or device: a zip is read from its end, where its directory is
            throw new NpyFormatException(path + ": not a regular file (a pipe or device): a .npz archive is read "
                    + "from its end, where the zip directory is; save it to a file first");
        }
        try {
            return new ZipFile(path.toFile());
        } catch (ZipException | java.io.EOFException e) {
            // EOFException: the end-of-central-directory search ran off a truncated file.
            String hint = startsWithNpyMagic(path) ? "; it is a .npy file: read it with Npy.read" : "";
            String why = e.getMessage() == null ? "the file ends before the zip directory" : e.getMessage();
            throw new NpyFormatException(path + ": not a .npz file (not a readable zip archive: " + why + ")" + hint,
                    e);
        }
    }

    static boolean startsWithNpyMagic(Path path) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer start = ByteBuffer.allocate(NpyHeader.MAGIC.length);
            NpyIO.readFully(channel, start);
            return Arrays.equals(start.array(), NpyHeader.MAGIC);
        } catch (IOException e) {
            return false;
        }
    }
}
