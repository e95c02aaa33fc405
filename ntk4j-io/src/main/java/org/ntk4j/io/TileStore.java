package org.ntk4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.CRC32C;
import org.ntk4j.cpu.Layout;
import org.ntk4j.ntk.ClusterTiles;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.tensor.Tensor;

/**
 * The output of a tiled kernel run: the final {@code .npy} file, in its final shape and layout, written tile by
 * tile through memory maps, and a manifest of the finished tiles, so that a run that dies can be resumed
 * without recomputing a finished tile.
 *
 * <p>Files, for an output {@code OUT}: the data goes to {@code OUT.partial} (a valid {@code .npy} header and
 * the kernel's bytes, zero where no tile has landed yet) and the manifest to {@code OUT.manifest}; when every
 * tile is in, {@link #finish()} checks each tile against its checksum, forces the file to disk, renames
 * {@code OUT.partial} to {@code OUT} atomically and then removes the manifest. A run that dies thus never leaves a
 * file named OUT that looks complete. One that dies between the rename and the manifest's removal leaves OUT and
 * its manifest: {@link #resume} recognises OUT as the run's finished kernel by the manifest's checksums of every
 * tile, and its {@link #finish()} removes the manifest. {@link #finishAll} finishes the files of one run (an
 * ensemble's kernel and standard error) so that a run killed between them resumes the same way.
 *
 * <p>Each {@link #write} puts the block (and, for x2 = x1, its mirror below the diagonal) into the file,
 * forces those bytes to disk, then appends one line {@code tile INDEX CRC32C LINE-CRC} to the manifest and
 * forces it. A tile is recorded only after its data is on disk; a line torn by a crash (no final newline) is
 * ignored and its tile recomputed. Writing a tile again rewrites identical bytes and records nothing new, so
 * tiles may be retried and written by several processes (manifest appends take a file lock).
 *
 * <p>The manifest (text) names the kernel's shape, dtype, kind, method, tile grid and a fingerprint of the
 * model, parameters and data ({@link RunFingerprint}); it starts with a header checksum. Resuming against a
 * manifest written for another run, or a corrupt one, is an {@link IOException} naming the difference. The
 * file may pass 2 GiB: it is mapped in regions of at most 1 GiB (one {@code MappedByteBuffer} stops at 2 GiB).
 *
 * <p>Writers in other processes ({@link #openData}, a Spark executor) do not touch the manifest: the owner records
 * their tiles once it knows they succeeded ({@link #recordTile}). Each also notes every tile it has written in full
 * in a journal of its own under {@code OUT.journal/} ({@link #journal}), so that the tiles of writers whose success
 * the owner never learnt (its process killed mid-run) are not lost: {@link #resume} records each journalled tile whose
 * bytes in {@code OUT.partial} still match the checksum noted, then removes the journals.
 */
public final class TileStore implements AutoCloseable, ClusterTiles.TileLedger {
    static final String MAGIC = "ntk4j tile manifest 1";
    /** Bytes of one mapped region of the data file. */
    static final long REGION = 1L << 30;

    private final Path out;
    /** The data file: OUT.partial, or OUT itself for a run resumed after its rename ({@link #renamed}). */
    private final Path partial;
    /** Whether the data file is OUT, renamed by a finish that was killed before it removed the manifest. */
    private final boolean renamed;
    /**
     * Whether OUT existed when this store was opened: the command's output checks ({@link OutputFiles}) allowed
     * replacing it then. A file that appears at OUT during the run (another program's) is not replaced by
     * {@link #finishAll}.
     */
    private final boolean outExisted;
    private final Path manifest;
    private final TilePlan plan;
    /** The manifest's header lines; null for a store opened for data only ({@link #openData}). */
    private final Map<String, String> header;
    private final FileChannel data;
    private final long dataOffset;
    private final int elementBytes;
    private final long dataBytes;
    private final long regionBytes;
    private final MappedByteBuffer[] regions;
    private final Map<Integer, Long> finished = Collections.synchronizedMap(new HashMap<>());
    /** The identity of OUT.partial and OUT.manifest when opened: a file deleted or replaced mid-run is noticed. */
    private final Object partialKey;
    private final Object manifestKey;
    /** Why the run stopped, once {@link #requireFiles} found a file of the run gone (guarded by finished). */
    private String stopped;
    /**
     * The manifest as {@link #record} last read it (guarded by finished): its tiles, the bytes of its complete lines
     * and their number. Each record reads only what was appended since, so that a run of T tiles reads the manifest
     * once, not T times (31,375 tiles of 16 spent a third of their time re-reading it).
     */
    private final Map<Integer, Long> manifestTiles = new HashMap<>();
    private long manifestBytes;
    private int manifestLines;
    /** Bytes of the manifest {@link #record} has read in all (for tests). */
    private long manifestBytesRead;
    /** Tiles written by this instance (for {@link InjectedFaults}). */
    private final java.util.concurrent.atomic.AtomicLong tilesWritten = new java.util.concurrent.atomic.AtomicLong();
    private boolean closed;
    /**
     * A data-only store's run, as its journal names it: the manifest's header checksum when the store was opened
     * ({@link #openData}); null for the owner's store, or where the manifest's header could not be read (no journal).
     */
    private String journalRun;
    /** The journal of a data-only store, opened at its first {@link #journal} (guarded by this). */
    private FileChannel journal;
    /** Set once writing the journal failed: the store journals nothing more (guarded by this). */
    private boolean journalFailed;
    /** The owner's run: its manifest's header checksum ({@link #run()}); null for a data-only store. */
    private String run;

    private TileStore(Path out, TilePlan plan, Map<String, String> header, FileChannel data, long dataOffset,
                      Map<Integer, Long> done, long region, boolean renamed) {
        this.regionBytes = region;
        this.out = out;
        this.renamed = renamed;
        this.outExisted = Files.exists(out);
        this.partial = renamed ? out : partialPath(out);
        this.manifest = manifestPath(out);
        this.plan = plan;
        this.header = header;
        this.data = data;
        this.dataOffset = dataOffset;
        this.elementBytes = plan.dtype().bytes();
        this.dataBytes = plan.elements() * elementBytes;
        this.regions = new MappedByteBuffer[(int) Math.max(1, (dataBytes + region - 1) / region)];
        this.finished.putAll(done);
        this.partialKey = fileKey(partial);
        this.manifestKey = header == null ? null : fileKey(manifest);
    }

    /** The file's key (device and inode on Unix), or null when it is gone or the file system has none. */
    private static Object fileKey(Path file) {
        try {
            return Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * {@code OUT.lock}: locked by the process that writes OUT, for the whole run ({@link #lock}).
     *
     * @param out the run's output file
     * @return the lock file beside it
     */
    public static Path lockPath(Path out) {
        return out.resolveSibling(out.getFileName() + ".lock");
    }

    /** The lock files this JVM holds (a second lock attempt from this JVM must not open and close the file). */
    private static final Set<Path> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * Claims OUT for this process until {@link RunLock#close()}: an exclusive lock on {@code OUT.lock}, which is
     * created and, on close, deleted; the lock is the claim only once the locked file is checked to be the file at
     * the path (it holds the holder's pid and a random token), so that processes racing for OUT never both hold it
     * (one on a file a holder deleted as it let go, another on the new file at the path). A run that starts,
     * resumes or finishes OUT holds it, so that a second run on the same OUT — with or without {@code --resume}, in
     * this process or another — is refused before it touches the first one's files. A lock file left by a run that
     * ended without letting go (killed, or stopped by a signal) is taken by the next run, of any user who may write
     * OUT's directory: the file is made as writable as its directory. The claim is an OS record lock
     * ({@code fcntl}); on NFS it holds across hosts only where the mount has locking (not {@code nolock} or
     * {@code local_lock}), and a lock of a host that crashed is released when the server's lease expires.
     *
     * @param out the run's output file
     * @return the claim, which the caller closes when the run ends
     * @throws IOException "another ntk4j is writing OUT" when another run holds it; "cannot claim OUT: its lock file
     *     ... is USER's, left by a run that has ended, and this user cannot write it (delete it: ...)" for one that
     *     another user's earlier ntk4j left unwritable (one this user cannot read either is refused alike, saying
     *     that a live run cannot be told from an ended one); or when the lock file cannot be created
     */
    public static RunLock lock(Path out) throws IOException {
        Path file = lockPath(out);
        Path key = file.toAbsolutePath().normalize();
        if (!HELD.add(key)) {
            throw busy(out);
        }
        try {
            for (int attempt = 0; attempt < 100; attempt++) {
                FileChannel ch;
                try {
                    ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                            StandardOpenOption.WRITE);
                } catch (java.nio.file.AccessDeniedException e) {
                    throw notWritable(out, file);
                }
                boolean held = false;
                try {
                    FileLock lock;
                    try {
                        lock = ch.tryLock();
                    } catch (java.nio.channels.OverlappingFileLockException e) {
                        lock = null; // this JVM locks the file through another channel: held all the same
                    }
                    if (lock == null) {
                        throw busy(out);
                    }
                    FileChannel atPath = openIfTheLockedFile(file, ch);
                    held = atPath != null;
                    if (held) {
                        shareLikeDirectory(file);
                        return new RunLock(file, key, ch, atPath);
                    }
                    // we locked a file that a holder's close had already deleted, and the path now names another
                    // file, which a third process may hold: try that one
                } finally {
                    if (!held) {
                        ch.close();
                    }
                }
            }
            throw busy(out);
        } catch (IOException | RuntimeException e) {
            HELD.remove(key);
            throw e;
        }
    }

    /**
     * A second channel on the file at {@code path}, when that is the file {@code locked} locks; null when it is not.
     * Between our open and our lock, the holder before us may have deleted the file (its close does) and a third
     * process created a new one there and locked it: our lock, on the deleted file, would claim nothing. That the
     * path exists says nothing (it names the new file), and Java gives no file key of an open channel to compare with
     * the path's ({@code Files.readAttributes(path).fileKey()}). So the holder writes a token of its own (its pid and
     * a random UUID) into the file it locked and reads it back through the path: only that file can show it (no other
     * holder writes that token, and nobody writes a file it has not locked). The channel that read it stays open
     * while the lock is held: closing any descriptor of a file releases the process's POSIX locks on it, which is
     * also why the read goes through a channel rather than {@code Files.readAllBytes}. One on another file is closed
     * at once, which releases nothing of ours.
     */
    private static FileChannel openIfTheLockedFile(Path path, FileChannel locked) throws IOException {
        byte[] token = ("ntk4j pid " + ProcessHandle.current().pid() + " " + java.util.UUID.randomUUID() + "\n")
                .getBytes(StandardCharsets.US_ASCII);
        locked.truncate(0);
        locked.write(ByteBuffer.wrap(token), 0);
        FileChannel atPath;
        try {
            atPath = FileChannel.open(path, StandardOpenOption.READ);
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
        boolean same = false;
        try {
            ByteBuffer read = ByteBuffer.allocate(token.length + 1);
            while (read.hasRemaining() && atPath.read(read, read.position()) > 0) {
                continue; // read to the end, or one byte past the token
            }
            same = read.position() == token.length
                    && Arrays.equals(Arrays.copyOf(read.array(), token.length), token);
            return same ? atPath : null;
        } finally {
            if (!same) {
                atPath.close();
            }
        }
    }

    /**
     * Makes the lock file as writable as its directory: group and others may write it where they may write the
     * directory (and so OUT). The file is created under the umask (rw-r--r-- at 022), and a run killed or stopped by
     * a signal leaves it (its lock dies with the process): another user of a shared directory could not open it to
     * take it over, though nobody held it. Only the file's owner may change its mode; anyone else's attempt fails
     * and changes nothing (the owner's next run widens it). The lock is the claim, not the file's mode: a user who
     * may write the directory could already delete or replace the file.
     */
    private static void shareLikeDirectory(Path file) {
        try {
            Path dir = file.toAbsolutePath().getParent();
            Set<java.nio.file.attribute.PosixFilePermission> d = Files.getPosixFilePermissions(dir);
            Set<java.nio.file.attribute.PosixFilePermission> f = Files.getPosixFilePermissions(file);
            Set<java.nio.file.attribute.PosixFilePermission> want = java.util.EnumSet.copyOf(f);
            if (d.contains(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE)) {
                want.add(java.nio.file.attribute.PosixFilePermission.GROUP_READ);
                want.add(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE);
            }
            if (d.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE)) {
                want.add(java.nio.file.attribute.PosixFilePermission.OTHERS_READ);
                want.add(java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE);
            }
            if (!want.equals(f)) {
                Files.setPosixFilePermissions(file, want);
            }
        } catch (IOException | UnsupportedOperationException e) {
            // not the file's owner, or no POSIX modes (Windows): the file stays as it is
        }
    }

    /**
     * The lock file cannot be opened for writing: another user's, left by a run that has ended, or held by a live
     * one. A shared lock through a read-only channel tells them apart (a live holder's exclusive lock refuses it);
     * the stale file is not deleted here, since a third process may meanwhile have replaced it with a live run's.
     */
    private static IOException notWritable(Path out, Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            FileLock probe;
            try {
                probe = ch.tryLock(0, Long.MAX_VALUE, true);
            } catch (java.nio.channels.OverlappingFileLockException e) {
                probe = null;
            }
            if (probe == null) {
                return busy(out);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            return busy(out); // deleted meanwhile by a run that ended: the next attempt may claim it
        } catch (java.nio.file.AccessDeniedException e) {
            // not even readable: whether a run holds it cannot be told
            return new IOException("cannot claim " + out + ": its lock file " + file + " is " + owner(file)
                    + ", and this user can neither write nor read it (delete it once no ntk4j writes " + out + ")");
        }
        return new IOException("cannot claim " + out + ": its lock file " + file + " is " + owner(file) + ", left "
                + "by a run that has ended, and this user cannot write it (delete it: no run holds it now)");
    }

    private static String owner(Path file) {
        try {
            return Files.getOwner(file).getName() + "'s";
        } catch (IOException e) {
            return "another user's";
        }
    }

    private static IOException busy(Path out) {
        return new IOException("another ntk4j is writing " + out);
    }

    /**
     * The claim of {@link #lock}: closing it deletes {@code OUT.lock} (where this user may: not another user's file
     * in a sticky directory such as /tmp, which is left unlocked for the next run) and releases the lock.
     */
    public static final class RunLock implements AutoCloseable {
        private final Path file;
        private final Path key;
        private final FileChannel channel;
        /** The file opened again by its path to check it is the one locked; closed with the lock. */
        private final FileChannel atPath;
        private boolean released;

        private RunLock(Path file, Path key, FileChannel channel, FileChannel atPath) {
            this.file = file;
            this.key = key;
            this.channel = channel;
            this.atPath = atPath;
        }

        @Override
        public void close() throws IOException {
            if (released) {
                return;
            }
            released = true;
            try {
                Files.deleteIfExists(file); // while locked: whoever opens it next finds it gone and retries
            } catch (IOException e) {
                // another user's file in a sticky directory (/tmp), or a directory made read-only meanwhile: left,
                // unlocked once the channel closes, for the next run to take (as a killed run's)
            } finally {
                try {
                    atPath.close();
                } finally {
                    channel.close(); // releases the lock
                    HELD.remove(key);
                }
            }
        }
    }

    /**
     * {@code OUT.partial}: the data file while the run is incomplete.
     *
     * @param out the run's output file
     * @return the data file beside it
     */
    public static Path partialPath(Path out) {
        return out.resolveSibling(out.getFileName() + ".partial");
    }

    /**
     * {@code OUT.manifest}: the finished tiles while the run is incomplete.
     *
     * @param out the run's output file
     * @return the manifest beside it
     */
    public static Path manifestPath(Path out) {
        return out.resolveSibling(out.getFileName() + ".manifest");
    }

    /**
     * {@code OUT.journal}: the directory of the journals of the run's data-only writers ({@link #journal}), one file
     * each, named by the run (its manifest's header checksum) and a random id.
     *
     * @param out the run's output file
     * @return the directory beside it
     */
    public static Path journalPath(Path out) {
        return out.resolveSibling(out.getFileName() + ".journal");
    }

    /** A journal's name: the run (its manifest's header checksum), a dash and a random UUID. */
    private static final java.util.regex.Pattern JOURNAL_NAME = java.util.regex.Pattern.compile(
            "[0-9a-f]+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /**
     * Removes the journals in {@code OUT.journal}, and the directory once empty, as far as it can: a journal is an
     * aid to {@link #resume} (which checks every tile it notes against the file and the run), never needed for a
     * run's correctness, so one that cannot be removed is left, not an error. Only files named as journals are
     * removed (a directory of the user's that happens to have that name keeps its other files, and itself).
     *
     * @param out the run's output file
     */
    public static void deleteJournals(Path out) {
        Path dir = journalPath(out);
        if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                if (JOURNAL_NAME.matcher(f.getFileName().toString()).matches()) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(dir);
        } catch (IOException | java.io.UncheckedIOException e) {
            // left: see above (a directory that still holds other files, say)
        }
    }

    /**
     * Starts a new run: (re)creates {@code OUT.partial} with the kernel's {@code .npy} header and size and a
     * manifest with no finished tile, replacing those of an earlier unfinished run. {@code OUT} itself is
     * replaced only by {@link #finish()}.
     *
     * @param out the run's output file; its directory must exist
     * @param plan the tile grid, kernel shape and dtype
     * @param fingerprint identifies the model, parameters and data ({@link RunFingerprint#of})
     * @return the store, owning the manifest, which the caller closes
     * @throws IOException if the file system lacks the space for {@code OUT.partial} (nothing is then written), or
     *     the files cannot be written (neither is then left behind: the manifest is written through
     *     {@link AtomicFile}, and {@code OUT.partial} is removed)
     */
    public static TileStore create(Path out, TilePlan plan, String fingerprint) throws IOException {
        return create(out, plan, fingerprint, null, REGION);
    }

    /**
     * {@link #create(Path, TilePlan, String)} that also records the fingerprints of the run's parts, by which a
     * {@link #resume} refused for another fingerprint names the part that differs (the model, the parameters, x1 or
     * x2).
     *
     * @param out the run's output file; its directory must exist
     * @param plan the tile grid, kernel shape and dtype
     * @param fingerprint identifies the model, parameters and data ({@link RunFingerprint#of})
     * @param parts the same, part by part ({@link RunFingerprint#parts})
     * @return the store, owning the manifest, which the caller closes
     * @throws IOException as {@link #create(Path, TilePlan, String)}
     */
    public static TileStore create(Path out, TilePlan plan, String fingerprint, String parts) throws IOException {
        return create(out, plan, fingerprint, parts, REGION);
    }

    /** {@link #create(Path, TilePlan, String)} mapping regions of {@code region} bytes (tests use small ones). */
    static TileStore create(Path out, TilePlan plan, String fingerprint, long region) throws IOException {
        return create(out, plan, fingerprint, null, region);
    }

    private static TileStore create(Path out, TilePlan plan, String fingerprint, String parts, long region)
            throws IOException {
        Map<String, String> header = header(plan, fingerprint, parts);
        Path partial = partialPath(out);
        Path manifest = manifestPath(out);
        byte[] npyHeader = NpyHeader.encode(NpyDType.of(plan.dtype()), plan.shape());
        requireSpace(out, npyHeader.length + plan.elements() * plan.dtype().bytes());
        Files.deleteIfExists(manifest);
        deleteJournals(out); // an earlier run's: not this one's tiles
        FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            ch.write(ByteBuffer.wrap(npyHeader), 0);
            long total = npyHeader.length + plan.elements() * plan.dtype().bytes();
            if (total > npyHeader.length) {
                ch.write(ByteBuffer.wrap(new byte[1]), total - 1); // sets the size; the rest stays sparse
            }
            ch.force(true);
            StringBuilder sb = new StringBuilder();
            for (Map.Entry<String, String> e : header.entrySet()) {
                sb.append(e.getKey()).append(' ').append(e.getValue()).append('\n');
            }
            String body = MAGIC + "\n" + sb;
            AtomicFile.writeString(manifest, body + "header-crc " + crcHex(body.getBytes(StandardCharsets.UTF_8))
                    + "\n");
            TileStore s = new TileStore(out, plan, header, ch, npyHeader.length, Map.of(), region, false);
            s.run = crcHex(body.getBytes(StandardCharsets.UTF_8));
            return s;
        } catch (IOException | RuntimeException e) {
            // a run that could not start leaves nothing behind: no OUT.partial without its manifest, which the
            // next run would have to be told to discard with --overwrite
            ch.close();
            try {
                Files.deleteIfExists(partial);
            } catch (IOException deleting) {
                e.addSuppressed(deleting);
            }
            throw e;
        }
    }

    /**
     * Refuses to start a run whose {@code OUT.partial} (sparse at first, filled through memory maps) would not fit
     * on its file system: a mapped write to a full disk is a fault, not an {@link IOException}. The space an
     * earlier {@code OUT.partial} holds counts as free (it is replaced): {@link #heldBytes}, not its size.
     */
    private static void requireSpace(Path out, long bytes) throws IOException {
        Path partial = partialPath(out);
        Path dir = partial.toAbsolutePath().getParent();
        long free = InjectedFaults.usableSpace(Files.getFileStore(dir)) + heldBytes(out);
        if (bytes > free || Long.valueOf(-1).equals(InjectedFaults.limit(partial))) {
            throw AtomicFile.cannotWrite(partial, new IOException(InjectedFaults.NO_SPACE), "the kernel needs "
                    + org.ntk4j.ntk.CostModel.human(bytes) + ", " + org.ntk4j.ntk.CostModel.human(free)
                    + " are free; nothing was written");
        }
    }

    /**
     * Refuses, before any of them is created, the files of one run (an ensemble's kernel and its standard error)
     * whose {@code OUT.partial} files do not fit together on their file system: each is sparse until its tiles land,
     * so {@link #create}'s check of one alone passes for two that fill the disk only hours later. Files on different
     * file systems are checked against their own; the space an earlier {@code OUT.partial} holds counts as free (it
     * is replaced): its header and recorded tiles, not its size ({@link #heldBytes}).
     *
     * @param outs the run's output files, its kernel first, then its standard error
     * @param plan the tile grid, kernel shape and dtype of every one of them
     * @throws IOException "cannot write A.partial and B.partial: no space left on device (the kernel and its
     *     standard error need X, Y are free; nothing was written)" when they do not fit together
     */
    public static void requireSpace(List<Path> outs, TilePlan plan) throws IOException {
        long each = NpyHeader.encode(NpyDType.of(plan.dtype()), plan.shape()).length
                + plan.elements() * plan.dtype().bytes();
        Map<java.nio.file.FileStore, List<Path>> byStore = new LinkedHashMap<>();
        for (Path out : outs) {
            Path partial = partialPath(out);
            byStore.computeIfAbsent(Files.getFileStore(partial.toAbsolutePath().getParent()), k -> new ArrayList<>())
                    .add(out);
        }
        for (Map.Entry<java.nio.file.FileStore, List<Path>> e : byStore.entrySet()) {
            List<Path> partials = new ArrayList<>();
            long free = InjectedFaults.usableSpace(e.getKey());
            for (Path out : e.getValue()) {
                free += heldBytes(out);
                partials.add(partialPath(out));
            }
            long bytes = each * partials.size();
            if (partials.size() > 1 && bytes > free) {
                List<String> names = new ArrayList<>();
                partials.forEach(q -> names.add(q.toString()));
                throw new IOException("cannot write " + String.join(" and ", names) + ": no space left on device ("
                        + (partials.size() == 2 ? "the kernel and its standard error" : partials.size() + " kernels")
                        + " need " + org.ntk4j.ntk.CostModel.human(bytes) + ", " + org.ntk4j.ntk.CostModel.human(free)
                        + " are free; nothing was written)");
            }
        }
    }

    /**
     * Refuses, before either store is resumed, the resumed run of several files (an ensemble's kernel and its
     * standard error) whose tiles still to be written do not fit together on their file system, as
     * {@link #requireSpace(List, TilePlan)} refuses a new one; each {@link #resume} checks its own file alone. What
     * a resumed run still needs is the bytes of the tiles its manifest does not record ({@link #bytesLeft}), not the
     * whole file: {@code OUT.partial} is sparse, and its recorded tiles and {@code .npy} header are on disk already.
     * A file without an unfinished run (no manifest or no {@code OUT.partial}: finished, renamed or absent) needs
     * nothing here; {@link #resume} says what is wrong with it. The manifest's lines to come (under 40 bytes a
     * tile) and a command's report are not counted, as a new run's check does not count them: they are written
     * with ordinary writes, which fail on a full disk with an {@link IOException} that leaves the run resumable,
     * where a mapped tile write faults (the reason for the check).
     *
     * @param outs the run's output files, its kernel first, then its standard error
     * @param plan the tile grid, kernel shape and dtype of every one of them
     * @throws IOException "cannot write A.partial and B.partial: no space left on device (the tiles left of the
     *     kernel and its standard error need X, Y are free; the run is unchanged: ...)" when they do not fit
     *     together, or when a manifest cannot be read
     */
    public static void requireSpaceToResume(List<Path> outs, TilePlan plan) throws IOException {
        List<Path> partials = new ArrayList<>();
        List<Long> bytes = new ArrayList<>();
        for (Path out : outs) {
            Path partial = partialPath(out);
            Path manifest = manifestPath(out);
            if (Files.exists(partial) && Files.exists(manifest)) {
                partials.add(partial);
                bytes.add(bytesLeft(plan, Manifest.read(manifest).tiles.keySet()));
            }
        }
        requireSpaceLeft(partials, bytes);
    }

    /**
     * The bytes a resumed run still writes into its {@code OUT.partial}: those of every tile of {@code plan} not in
     * {@code done} (a mirrored tile twice: its block and its mirror). Exact up to the file system's rounding to
     * whole blocks: a row of a tile left that shares a block with a tile not yet written either allocates it for
     * both (at most a block per row's end more than this counts) or finds it allocated already.
     *
     * @param plan the run's tiles
     * @param done the tiles recorded as finished
     * @return bytes still to be written
     */
    static long bytesLeft(TilePlan plan, Set<Integer> done) {
        long entryBytes = (long) plan.tailElements() * plan.dtype().bytes();
        long left = 0;
        for (TilePlan.Tile t : plan.tiles()) {
            if (!done.contains(t.index())) {
                left += tileBytes(t, entryBytes);
            }
        }
        return left;
    }

    /** The bytes tile {@code t} puts in the file: its block, and its mirror's. */
    private static long tileBytes(TilePlan.Tile t, long entryBytes) {
        return (long) t.rows() * t.columns() * entryBytes * (t.mirrored() ? 2 : 1);
    }

    /**
     * The space an earlier {@code OUT.partial} holds on disk, which a new run's {@link #create} frees when it
     * truncates the file: it is sparse, so not its size (counted before 2026-12-07, which passed a run that did not
     * fit), but its {@code .npy} header and the tiles its manifest records, by the manifest's own grid (another
     * run's, perhaps), as {@link #bytesLeft} counts them. A file without a readable manifest (a run killed as it
     * began, or a file of unknown origin) counts as nothing: the check then asks for more than it may need, never
     * less.
     */
    private static long heldBytes(Path out) {
        Path partial = partialPath(out);
        Path manifest = manifestPath(out);
        if (!Files.exists(partial) || !Files.exists(manifest)) {
            return 0;
        }
        try {
            Manifest m = Manifest.read(manifest);
            int[] shape = parseInts(m.header.get("shape"));
            org.ntk4j.tensor.DType dtype = org.ntk4j.tensor.DType.parse(m.header.get("dtype"));
            long entryBytes = dtype.bytes();
            for (int k = 2; k < shape.length; k++) {
                entryBytes *= shape[k];
            }
            long held = NpyHeader.encode(NpyDType.of(dtype), shape).length;
            for (TilePlan.Tile t : TilePlan.enumerate(parseInts(m.header.get("rows")),
                    parseInts(m.header.get("columns")), Boolean.parseBoolean(m.header.get("symmetric")))) {
                if (m.tiles.containsKey(t.index())) {
                    held += tileBytes(t, entryBytes);
                }
            }
            return Math.min(held, Files.size(partial));
        } catch (IOException | RuntimeException unreadable) {
            return 0; // a corrupt manifest (or one of an older format): nothing is counted as freed
        }
    }

    private static int[] parseInts(String csv) {
        return Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    /**
     * Refuses a resumed run whose {@code partials} (files kept, sparse) cannot take the {@code bytes} still to be
     * written into each: files on one file system are checked together, against its usable space (nothing is
     * counted as freed: the files stay). The injected full disk of a partial file ({@link InjectedFaults}, without
     * {@code @N}) fails it as it fails a new run's check.
     */
    private static void requireSpaceLeft(List<Path> partials, List<Long> bytes) throws IOException {
        Map<java.nio.file.FileStore, List<Integer>> byStore = new LinkedHashMap<>();
        for (int i = 0; i < partials.size(); i++) {
            byStore.computeIfAbsent(Files.getFileStore(partials.get(i).toAbsolutePath().getParent()),
                    k -> new ArrayList<>()).add(i);
        }
        for (Map.Entry<java.nio.file.FileStore, List<Integer>> e : byStore.entrySet()) {
            long need = 0;
            boolean injected = false;
            List<String> names = new ArrayList<>();
            for (int i : e.getValue()) {
                need += bytes.get(i);
                injected |= Long.valueOf(-1).equals(InjectedFaults.limit(partials.get(i)));
                names.add(partials.get(i).toString());
            }
            long free = InjectedFaults.usableSpace(e.getKey());
            if (need > free || injected) {
                String what = names.size() == 1 ? "the tiles left" : "the tiles left of "
                        + (names.size() == 2 ? "the kernel and its standard error" : names.size() + " kernels");
                throw new IOException("cannot write " + String.join(" and ", names) + ": " + AtomicFile.reason(
                        new IOException(InjectedFaults.NO_SPACE)) + " (" + what + " need "
                        + org.ntk4j.ntk.CostModel.human(need) + ", " + org.ntk4j.ntk.CostModel.human(free)
                        + " are free; the run is unchanged: --resume continues it once space is freed)");
            }
        }
    }

    /**
     * Continues an unfinished run (or attaches another process to it): the manifest must exist, be intact and
     * describe this run — same shape, dtype, kind, method, tile grid and fingerprint — and every tile it records
     * must match its checksum in {@code OUT.partial}.
     *
     * @param out the run's output file
     * @param plan the tile grid, kernel shape and dtype, which must be the manifest's
     * @param fingerprint identifies the model, parameters and data ({@link RunFingerprint#of}); must be the
     *     manifest's
     * @return the store, owning the manifest and knowing the tiles already finished, which the caller closes
     * @throws IOException naming what differs, or what is corrupt, or when there is no unfinished run at OUT
     */
    public static TileStore resume(Path out, TilePlan plan, String fingerprint) throws IOException {
        return resume(out, plan, fingerprint, null, REGION);
    }

    /**
     * {@link #resume(Path, TilePlan, String)} for a run whose parts' fingerprints are known: a manifest that records
     * them too ({@link #create(Path, TilePlan, String, String)}) and whose fingerprint differs is refused naming the
     * parts that differ.
     *
     * @param out the run's output file
     * @param plan the tile grid, kernel shape and dtype, which must be the manifest's
     * @param fingerprint identifies the model, parameters and data ({@link RunFingerprint#of}); must be the
     *     manifest's
     * @param parts the same, part by part ({@link RunFingerprint#parts})
     * @return the store, owning the manifest and knowing the tiles already finished, which the caller closes
     * @throws IOException as {@link #resume(Path, TilePlan, String)}
     */
    public static TileStore resume(Path out, TilePlan plan, String fingerprint, String parts) throws IOException {
        return resume(out, plan, fingerprint, parts, REGION);
    }

    /** {@link #resume(Path, TilePlan, String)} mapping regions of {@code region} bytes. */
    static TileStore resume(Path out, TilePlan plan, String fingerprint, long region) throws IOException {
        return resume(out, plan, fingerprint, null, region);
    }

    private static TileStore resume(Path out, TilePlan plan, String fingerprint, String parts, long region)
            throws IOException {
        Path partial = partialPath(out);
        Path manifest = manifestPath(out);
        // no OUT.partial, but OUT and the manifest: a finish killed between its rename and the manifest's removal,
        // when every tile is recorded and OUT holds them all (checked below); anything else has lost its data
        boolean renamed = Files.exists(manifest) && !Files.exists(partial) && Files.isRegularFile(out);
        String noRun = "--resume: no unfinished run at " + out + " (" + (Files.exists(manifest) ? partial : manifest)
                + " does not exist)";
        if (!Files.exists(manifest) || !Files.exists(partial) && !renamed) {
            throw new IOException(noRun);
        }
        Manifest m = Manifest.read(manifest);
        requireSameRun(m, manifest, plan, fingerprint, parts);
        dropTornLine(manifest);
        Map<String, String> expected = header(plan, fingerprint, parts);
        for (int t : m.tiles.keySet()) {
            if (t >= plan.tileCount()) {
                throw new IOException("manifest " + manifest + " is corrupt: tile " + t
                        + " is out of range (the plan has " + plan.tileCount() + " tiles)");
            }
        }
        if (renamed && m.tiles.size() < plan.tileCount()) {
            throw new IOException(noRun);
        }
        if (!renamed) {
            requireSpaceLeft(List.of(partial), List.of(bytesLeft(plan, m.tiles.keySet())));
        }
        TileStore s = openPartial(out, plan, expected, m.tiles, region, renamed);
        s.run = m.headerCrc;
        for (Map.Entry<Integer, Long> e : m.tiles.entrySet()) {
            long crc = s.checksum(plan.tile(e.getKey()));
            if (crc != e.getValue()) {
                s.close();
                throw new IOException(renamed ? noRun + " and " + out + " does not hold the tiles " + manifest
                        + " records: it is not this run's kernel; delete " + manifest + " to start again"
                        : partial + " is corrupt: tile " + e.getKey() + "'s data does not match its checksum in "
                        + manifest + "; delete both files to start again");
            }
        }
        if (!renamed) {
            try {
                s.adoptJournals(m.headerCrc);
            } catch (IOException | RuntimeException e) {
                s.close();
                throw e;
            }
        }
        return s;
    }

    /**
     * Records the tiles that data-only writers of this run noted in their journals ({@link #journal}) and the
     * manifest does not record (their owner was killed before it learnt that they had succeeded), each only where
     * {@code OUT.partial} still holds the bytes of the checksum noted; then removes the journals. A journal of
     * another run (another header checksum) is ignored, and a torn or unreadable line ends what is read of its
     * journal: its tiles are computed again.
     */
    private void adoptJournals(String run) throws IOException {
        // the tiles recorded already are not read again (a finish re-reads them all once, to check them)
        for (Map.Entry<Integer, Long> e : heldNotes(run, t -> !finished.containsKey(t)).entrySet()) {
            if (!finished.containsKey(e.getKey())) {
                record(e.getKey(), e.getValue());
            }
        }
        deleteJournals(out);
    }

    /**
     * The tiles {@code wanted} that this run's journals note and whose bytes in the data file match the
     * checksum noted, with that checksum; a journal of another run, an unreadable one and a torn or corrupt line
     * (and what follows it in its journal) give nothing.
     */
    private Map<Integer, Long> heldNotes(String run, java.util.function.IntPredicate wanted) throws IOException {
        Map<Integer, Long> held = new java.util.TreeMap<>();
        Path dir = journalPath(out);
        if (run == null || !Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return held;
        }
        List<Path> journals;
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            journals = files.filter(f -> f.getFileName().toString().startsWith(run + "-")
                    && JOURNAL_NAME.matcher(f.getFileName().toString()).matches()).sorted().toList();
        }
        for (Path f : journals) {
            String[] lines;
            try {
                lines = new String(Files.readAllBytes(f), StandardCharsets.UTF_8).split("\n", -1);
            } catch (IOException unreadable) {
                continue;
            }
            Map<Integer, Long> noted = new java.util.TreeMap<>();
            for (int i = 0; i < lines.length - 1; i++) { // the last: empty, or torn by a crash
                try {
                    Manifest.tileLine(lines[i], i + 1, f, noted);
                } catch (IOException torn) {
                    break;
                }
            }
            for (Map.Entry<Integer, Long> e : noted.entrySet()) {
                int t = e.getKey();
                if (t >= 0 && t < plan.tileCount() && wanted.test(t) && !held.containsKey(t)
                        && checksum(plan.tile(t)) == e.getValue()) {
                    held.put(t, e.getValue());
                }
            }
        }
        return held;
    }

    /**
     * For a data-only store: the tiles of {@code tiles} that this run's writers have noted in their journals
     * ({@link #journal}) and that the data file still holds (its bytes match the checksum noted), with their
     * checksums — what a retried Spark task need not compute again (its first attempt's finished tiles).
     *
     * @param tiles the tiles asked about
     * @return tile → checksum, for those held; empty when the store keeps no journal or none notes them
     * @throws IllegalStateException if the store is closed, or is the run's owner
     * @throws IOException if the journals' directory cannot be listed, or the data file cannot be read
     */
    public Map<Integer, Long> journalled(Set<Integer> tiles) throws IOException {
        ensureOpen();
        if (header != null) {
            throw new IllegalStateException("tile store for " + out + " owns the manifest: its finished tiles are "
                    + "finishedTiles()");
        }
        return heldNotes(journalRun, tiles::contains);
    }

    /**
     * The first check of {@link #resume(Path, TilePlan, String, String)}, before any work: {@code OUT.manifest} must
     * describe this run (its header, not its tiles' data), so that a run refused for another model, parameters,
     * data, kind or shape is refused before it writes anything of its own (a {@code --params-out}, say).
     *
     * @param out the run's output file
     * @param plan the tile grid, kernel shape and dtype
     * @param fingerprint identifies the model, parameters and data ({@link RunFingerprint#of})
     * @param parts the same, part by part ({@link RunFingerprint#parts}), or null
     * @throws IOException naming every field that differs, or when the manifest is missing or corrupt
     */
    public static void requireSameRun(Path out, TilePlan plan, String fingerprint, String parts) throws IOException {
        Path manifest = manifestPath(out);
        if (!Files.exists(manifest)) {
            throw new IOException("--resume: no unfinished run at " + out + " (" + manifest + " does not exist)");
        }
        requireSameRun(Manifest.read(manifest), manifest, plan, fingerprint, parts);
    }

    private static void requireSameRun(Manifest m, Path manifest, TilePlan plan, String fingerprint, String parts)
            throws IOException {
        Map<String, String> expected = header(plan, fingerprint, parts);
        // every field that differs is named (another --kind changes the shape too: both are said)
        List<String> differ = new ArrayList<>();
        for (Map.Entry<String, String> e : expected.entrySet()) {
            String recorded = m.header.get(e.getKey());
            if (e.getKey().equals(PARTS) || e.getValue().equals(recorded)) {
                continue; // the parts only explain a fingerprint that differs
            }
            String why = "";
            if (e.getKey().equals("fingerprint")) {
                String which = RunFingerprint.differences(m.header.get(PARTS), parts);
                why = " (" + (which != null ? which : "another model, parameters or data") + ")";
            }
            differ.add("its " + e.getKey() + " is " + recorded + ", this run's is " + e.getValue() + why);
        }
        if (!differ.isEmpty()) {
            throw new IOException("--resume: " + manifest + " was written for another run: "
                    + String.join("; ", differ));
        }
    }

    /**
     * Opens {@code OUT.partial} of a run that another process started ({@link #create} or {@link #resume}) and whose
     * manifest that process owns, to write tile data only — on a Spark executor, say: {@link #writeData} puts a
     * tile's block in the file, forces it to disk and returns its checksum, which the owner records with
     * {@link #recordTile} once it knows the writer succeeded. The manifest is neither read nor written by this
     * instance ({@link #write}, {@link #recordTile} and {@link #finish} refuse); the file's size and {@code .npy}
     * header are checked.
     *
     * @param out the run's output file
     * @param plan the run's tile grid, kernel shape and dtype
     * @return the data-only store, which the caller closes
     * @throws IOException if {@code OUT.partial} does not exist, or its size or header is not this plan's
     */
    public static TileStore openData(Path out, TilePlan plan) throws IOException {
        return openData(out, plan, null);
    }

    /**
     * {@link #openData(Path, TilePlan)} for a writer of the run {@code run} (its owner's {@link #run()}): refused
     * when {@code OUT.manifest} is now another run's, as when the run was started again with other inputs
     * ({@code --overwrite}) while a task of the old one still ran. Such a writer's tiles are not the new run's, and
     * its journal would name the new run, whose resume would record them where the file held them (a task starts
     * at any time before its driver is gone: the killed driver's last tasks may open the file after the new run
     * started). A manifest that cannot be read leaves the writer without a journal, as {@link #openData(Path,
     * TilePlan)} does.
     *
     * @param out the run's output file
     * @param plan the run's tile grid, kernel shape and dtype
     * @param run the owner's {@link #run()}, or null to take whichever run the manifest names
     * @return the data-only store, which the caller closes
     * @throws IOException if {@code OUT.partial} does not exist, its size or header is not this plan's, or
     *     {@code OUT.manifest} is another run's
     */
    public static TileStore openData(Path out, TilePlan plan, String run) throws IOException {
        if (!Files.exists(partialPath(out))) {
            throw new IOException("tile store: " + partialPath(out) + " does not exist: the run was not started (or "
                    + "has finished) where this process sees " + out);
        }
        String now = headerCrc(manifestPath(out));
        if (run != null && now != null && !now.equals(run)) {
            throw new IOException("tile store: " + manifestPath(out) + " is another run's (header checksum " + now
                    + ", this writer's run " + run + "): the run at " + out + " was started again meanwhile");
        }
        TileStore s = openPartial(out, plan, null, Map.of(), REGION, false);
        s.journalRun = now;
        return s;
    }

    /**
     * The run this store owns: its manifest's header checksum, which names its writers' journals and which they
     * pass to {@link #openData(Path, TilePlan, String)}.
     *
     * @return the checksum in hex; null for a data-only store
     */
    @Override
    public String run() {
        return run;
    }

    /**
     * The header checksum of the manifest at {@code manifest} (its {@code header-crc} line, read from the file's
     * start only: a manifest of millions of tiles is not read), or null when it cannot be read.
     */
    private static String headerCrc(Path manifest) {
        try (FileChannel ch = FileChannel.open(manifest, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate((int) Math.min(ch.size(), 1 << 16));
            while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
                // the header, and perhaps some tile lines
            }
            for (String line : new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).split("\n")) {
                if (line.startsWith("header-crc ")) {
                    String crc = line.substring("header-crc ".length());
                    return crc.matches("[0-9a-f]+") ? crc : null;
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * For a data-only store ({@link #openData}): notes in this store's journal ({@code OUT.journal/}) that this
     * process wrote {@code tile} in full, with the checksum {@link #writeData} returned, and forces the note to disk.
     * Call it only for a block known to be the tile's (computed in full), not for one written and then found wrong:
     * a run resumed after its owner was killed before it recorded the tile ({@link #resume}) records it from the
     * note, where {@code OUT.partial} still holds those bytes, instead of computing it again. Best effort: a
     * journal that cannot be written (a directory this process may not write) is given up, silently, and the tile
     * waits for the owner's {@link #recordTile} as before.
     *
     * @param tile the tile written
     * @param crc the checksum {@link #writeData} returned for it
     * @return whether the note is on disk
     * @throws IllegalStateException if the store is closed, or is the run's owner (which records tiles itself)
     */
    public synchronized boolean journal(TilePlan.Tile tile, long crc) {
        ensureOpen();
        if (header != null) {
            throw new IllegalStateException("tile store for " + out + " owns the manifest: it records its tiles "
                    + "(write, recordTile) rather than journal them");
        }
        if (journalRun == null || journalFailed) {
            return false;
        }
        try {
            if (journal == null) {
                Path dir = journalPath(out);
                Files.createDirectories(dir);
                if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    // a link (to a directory elsewhere): resume and deleteJournals never read or remove through
                    // one, so its notes would be of no use and left behind in the directory it points to
                    journalFailed = true;
                    return false;
                }
                journal = FileChannel.open(dir.resolve(journalRun + "-" + java.util.UUID.randomUUID()),
                        StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            }
            String line = "tile " + tile.index() + " " + Long.toHexString(crc);
            ByteBuffer b = ByteBuffer.wrap((line + " " + crcHex(line.getBytes(StandardCharsets.UTF_8)) + "\n")
                    .getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                journal.write(b);
            }
            journal.force(false);
            return true;
        } catch (IOException | RuntimeException e) {
            journalFailed = true;
            return false;
        }
    }

    /**
     * Fails unless {@code file} has the size and {@code .npy} header of {@code plan}'s kernel: a finished file of a
     * run whose manifest is gone ({@link TiledKernelRun}: an ensemble's standard error, finished before the run
     * was killed).
     */
    static void requireKernelFile(Path file, TilePlan plan) throws IOException {
        openPartial(file, plan, null, Map.of(), REGION, true).close();
    }

    /**
     * Opens OUT.partial read-write after checking its size and .npy header; header null: data only. Renamed: OUT
     * itself, read-only (its tiles are all recorded: the store only checks them and finishes).
     */
    private static TileStore openPartial(Path out, TilePlan plan, Map<String, String> header,
                                         Map<Integer, Long> done, long region, boolean renamed) throws IOException {
        Path partial = renamed ? out : partialPath(out);
        Path manifest = manifestPath(out);
        byte[] npyHeader = NpyHeader.encode(NpyDType.of(plan.dtype()), plan.shape());
        FileChannel ch = renamed ? FileChannel.open(partial, StandardOpenOption.READ)
                : FileChannel.open(partial, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long expectedSize = npyHeader.length + plan.elements() * plan.dtype().bytes();
            if (ch.size() != expectedSize) {
                throw new IOException(partial + " has " + ch.size() + " bytes, the manifest's run needs "
                        + expectedSize + ": the file is not this run's; delete " + partial + " and " + manifest
                        + " to start again");
            }
            ByteBuffer head = ByteBuffer.allocate(npyHeader.length);
            while (head.hasRemaining() && ch.read(head, head.position()) > 0) {
                // read the header fully
            }
            if (!Arrays.equals(head.array(), npyHeader)) {
                throw new IOException(partial + " does not start with this kernel's .npy header; delete " + partial
                        + " and " + manifest + " to start again");
            }
            return new TileStore(out, plan, header, ch, npyHeader.length, done, region, renamed);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Cuts a last line without its newline (an append torn by a crash; its tile was not recorded), so that the
     * next append starts a line of its own.
     */
    private static void dropTornLine(Path manifest) throws IOException {
        try (FileChannel m = FileChannel.open(manifest, StandardOpenOption.READ, StandardOpenOption.WRITE);
             FileLock lock = m.lock()) {
            ByteBuffer all = ByteBuffer.allocate((int) m.size());
            while (all.hasRemaining() && m.read(all, all.position()) > 0) {
                // read it all
            }
            byte[] b = all.array();
            int end = b.length;
            while (end > 0 && b[end - 1] != '\n') {
                end--;
            }
            if (end < b.length) {
                m.truncate(end);
                m.force(true);
            }
        }
    }

    /**
     * Whether there is an unfinished run at {@code out}.
     *
     * @param out the run's output file
     * @return true when {@code OUT.manifest} exists: an unfinished run that {@code --resume} can continue
     */
    public static boolean unfinished(Path out) {
        return Files.exists(manifestPath(out));
    }

    /**
     * The tiles recorded in {@code OUT.manifest} now: its complete {@code tile} lines, checksums not verified (a
     * count to tell the user, as an interrupted run's last line does; {@link #resume} verifies them). Tiles are
     * recorded before anything else counts them, so this is the count a resume starts from.
     *
     * @param out the run's output file
     * @return the number of complete tile lines, 0 when there is no manifest or it cannot be read
     */
    public static int recordedTileCount(Path out) {
        String text;
        try {
            text = Files.readString(manifestPath(out), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        // the complete lines only: a line still being written is not a recorded tile
        return (int) text.substring(0, text.lastIndexOf('\n') + 1).lines().filter(l -> l.startsWith("tile ")).count();
    }

    /**
     * The tile size and method recorded in {@code OUT.manifest}, for a resumed run to plan the same grid:
     * {"row-tile": ..., "column-tile": ..., "method": ..., ...}, "block-budget" when blocks run in tiles of basis
     * vectors or chunks of outputs ({@link TilePlan#blockBudgetBytes()}), and "blas-threads" when the tiles of a
     * plan of several run on more than one BLAS thread ({@link TilePlan#blasThreads()}).
     *
     * @param out the run's output file
     * @return the manifest's header fields in file order, unmodifiable
     * @throws IOException if the manifest does not exist, cannot be read or is corrupt
     */
    public static Map<String, String> recordedRun(Path out) throws IOException {
        return Collections.unmodifiableMap(Manifest.read(manifestPath(out)).header);
    }

    /** The manifest's line of the fingerprints of the run's parts ({@link RunFingerprint#parts}), when known. */
    private static final String PARTS = "parts";

    private static Map<String, String> header(TilePlan plan, String fingerprint, String parts) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("shape", join(plan.shape()));
        h.put("dtype", plan.dtype().shortName());
        KernelKind kind = plan.kind();
        boolean seeded = kind.isSeeded();
        h.put("kind", kind + (seeded ? " seed=" + kind.seed() : ""));
        h.put("method", plan.method().shortName());
        h.put("symmetric", Boolean.toString(plan.symmetric()));
        h.put("row-tile", Integer.toString(plan.rowTile()));
        h.put("column-tile", Integer.toString(plan.columnTile()));
        h.put("rows", join(plan.rowBounds()));
        h.put("columns", join(plan.columnBounds()));
        h.put("tiles", Integer.toString(plan.tileCount()));
        if (plan.blockBudgetBytes() != Long.MAX_VALUE) {
            // blocks in tiles of basis vectors or chunks of outputs sized to it: a resumed run sizes them alike
            h.put("block-budget", Long.toString(plan.blockBudgetBytes()));
        }
        if (plan.tileCount() > 1 && plan.blasThreads() != 1) {
            // tiles on several BLAS threads (fewer blocks fit at once than cores): a resumed run uses as many
            // (manifests without it: one, as every plan of several tiles had before)
            h.put("blas-threads", Integer.toString(plan.blasThreads()));
        }
        h.put("fingerprint", fingerprint);
        if (parts != null) {
            h.put(PARTS, parts);
        }
        return h;
    }

    private static String join(int[] v) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < v.length; i++) {
            sb.append(i == 0 ? "" : ",").append(v[i]);
        }
        return sb.toString();
    }

    /**
     * The plan this store writes.
     *
     * @return the tile grid, kernel shape and dtype
     */
    @Override
    public TilePlan plan() {
        return plan;
    }

    /**
     * The tiles finished so far.
     *
     * @return indices of the tiles recorded as in the file (for a data-only store: none), sorted; a snapshot,
     *     unmodifiable
     */
    @Override
    public Set<Integer> finishedTiles() {
        synchronized (finished) {
            return Collections.unmodifiableSet(new TreeSet<>(finished.keySet()));
        }
    }

    /**
     * Writes tile {@code tile}'s block [rows, columns, tail...] (and its mirror when the tile is mirrored),
     * forces it to disk, then records the tile in the manifest (once). Thread-safe; idempotent.
     *
     * @param tile the tile of this store's plan
     * @param block the tile's values [rows, columns, tail...] of the plan's dtype; left open
     * @throws IllegalArgumentException if the block's shape or dtype is not the tile's
     * @throws IllegalStateException if the store is closed or opened for data only
     * @throws IOException if the file cannot be written (a full disk, say) or the run's files were removed
     */
    public void write(TilePlan.Tile tile, Tensor block) throws IOException {
        ensureOwner();
        long crc = writeData(tile, block);
        try {
            record(tile.index(), crc);
        } catch (InternalError e) {
            throw mappedFault(e); // a fault of the data half, delivered late (see deliverPendingFault)
        }
    }

    /**
     * The data half of {@link #write}: puts the block (and its mirror) in the file and forces it to disk, without
     * recording the tile; returns the tile's checksum for {@link #recordTile}. Thread-safe; idempotent (a retried
     * or duplicated writer puts the same bytes in the same places).
     *
     * @param tile the tile of this store's plan
     * @param block the tile's values [rows, columns, tail...] of the plan's dtype; left open
     * @return the CRC-32C of the tile's bytes in the file
     * @throws IllegalArgumentException if the block's shape or dtype is not the tile's
     * @throws IllegalStateException if the store is closed
     * @throws IOException if the file cannot be written (a full disk, or the file truncated meanwhile)
     */
    public long writeData(TilePlan.Tile tile, Tensor block) throws IOException {
        int[] expected = plan.shape();
        expected[0] = tile.rows();
        expected[1] = tile.columns();
        if (!Arrays.equals(block.shape(), expected) || block.dtype() != plan.dtype()) {
            throw new IllegalArgumentException("tile store: " + tile + " must be " + Arrays.toString(expected) + " ("
                    + plan.dtype().shortName() + "), got " + Arrays.toString(block.shape()));
        }
        ensureOpen();
        try {
            Long injected = InjectedFaults.limit(partial);
            boolean lost = false; // tests: a write lost with its fault undelivered (InjectedFaults.LOST)
            if (injected != null && injected >= 0 && tilesWritten.get() >= injected) {
                lost = InjectedFaults.lost(partial);
                if (!lost) {
                    throw new InternalError("a fault occurred in a recent unsafe memory access operation (injected)");
                }
            }
            // the bytes the file must now hold, in checksum's order (the block's rows, then its mirror's), taken
            // before the first mapped write: a native call after a faulting one (JavaCPP's buffer of a pointer)
            // crashed the JVM with SIGSEGV where HotSpot still had the SIGBUS's error pending
            CRC32C written = new CRC32C();
            ByteBuffer rows = rowBytes(block);
            written.update(rows.duplicate());
            try (Tensor m = tile.mirrored() ? Layout.transpose(block, plan.mirrorPermutation()) : null) {
                ByteBuffer mirror = m == null ? null : rowBytes(m);
                if (mirror != null) {
                    written.update(mirror.duplicate());
                }
                if (!lost) {
                    putRows(rows, block.dim(0), tile.rowFrom(), tile.columnFrom());
                    if (mirror != null) {
                        putRows(mirror, m.dim(0), tile.columnFrom(), tile.rowFrom());
                    }
                }
            }
            force(tile);
            long crc = checksum(tile);
            deliverPendingFault();
            if (crc != written.getValue()) {
                // a mapped write the file system could not back whose fault was not delivered yet: HotSpot throws
                // it at a later transition, which may come after record() appended the tile to the manifest (a
                // resumed run then kept its zeros: seen in CI under load); the bytes read back tell it for certain
                throw mappedFault(new InternalError("tile " + tile.index() + ": the bytes read back from "
                        + partial + " differ from the block written"));
            }
            tilesWritten.incrementAndGet();
            return crc;
        } catch (InternalError e) {
            throw mappedFault(e);
        }
    }

    /**
     * Records tile {@code index} as finished with the checksum its writer's {@link #writeData} returned — for a
     * tile written by another process, called once that process has succeeded. Idempotent; a second call with
     * another checksum is an error. {@link #finish()} checks every recorded checksum against the file.
     *
     * @param index the tile's index in the plan
     * @param crc the checksum {@link #writeData} returned for it
     * @throws IllegalStateException if the store is closed or opened for data only
     * @throws IOException if the tile was recorded before with another checksum, the manifest cannot be appended
     *     to, or the run's files were removed

     */
    @Override
    public void recordTile(int index, long crc) throws IOException {
        ensureOwner();
        plan.tile(index); // range check
        record(index, crc);
    }

    private void ensureOwner() {
        ensureOpen();
        if (header == null) {
            throw new IllegalStateException("tile store for " + out + " was opened for data only (openData): the "
                    + "process that created or resumed the run records tiles and finishes it");
        }
    }

    /**
     * Lets a fault of the mapped copies above surface here. A SIGBUS in compiled code does not throw at the faulting
     * access: HotSpot marks the thread and throws the InternalError at its next transition out of Java code, which
     * was seen to be after this method had returned (in {@link #record}'s lock). A native call is such a transition;
     * where the fault comes later still, {@link #writeData}'s comparison of the bytes read back catches the tile.
     */
    private static void deliverPendingFault() {
        Thread.yield();
    }

    /** The bytes of block [r, c, tail] that {@link #putRows} copies, as they lie in memory: r rows of c·tail. */
    private ByteBuffer rowBytes(Tensor block) {
        long rowBytes = (long) block.dim(1) * plan.tailElements() * elementBytes;
        ByteBuffer src = block.pointer().asByteBuffer();
        src.limit((int) (block.dim(0) * rowBytes)).position(0);
        return src;
    }

    /**
     * Copies the r rows of a block [r, c, tail] ({@link #rowBytes}: c·tail entries each) to rows [row, row + r),
     * columns [column, column + c) of the file.
     */
    private void putRows(ByteBuffer src, int r, int row, int column) throws IOException {
        long rowBytes = src.limit() / r;
        for (int a = 0; a < r; a++) {
            long at = offset(row + a, column);
            ByteBuffer part = src.duplicate();
            part.limit((int) ((a + 1) * rowBytes)).position((int) (a * rowBytes));
            copyIn(at, part);
        }
    }

    /** Byte offset in the data region of entry (row, column, 0...). */
    private long offset(int row, int column) {
        return ((long) row * plan.shape()[1] + column) * plan.tailElements() * elementBytes;
    }

    /**
     * The error of a write through a memory map that the file system cannot back: a SIGBUS, which the JVM turns
     * into "InternalError: a fault occurred in a recent unsafe memory access operation", thrown at the write or a
     * little later (at the force, say).
     */
    private IOException mappedFault(InternalError e) throws IOException {
        long expected = dataOffset + dataBytes;
        long size = Files.exists(partial) ? Files.size(partial) : -1;
        if (size >= 0 && size < expected) {
            return new IOException(partial + " was truncated during the run (" + size + " of " + expected
                    + " bytes); the run stopped", e);
        }
        return AtomicFile.cannotWrite(partial, new IOException(InjectedFaults.NO_SPACE, e),
                "--resume continues the run once space is freed");
    }

    private void copyIn(long at, ByteBuffer src) throws IOException {
        while (src.hasRemaining()) {
            int k = (int) (at / regionBytes);
            ByteBuffer dst = region(k).duplicate();
            int pos = (int) (at - k * regionBytes);
            int n = Math.min(src.remaining(), dst.capacity() - pos);
            ByteBuffer piece = src.duplicate();
            piece.limit(piece.position() + n);
            dst.position(pos);
            dst.put(piece);
            src.position(src.position() + n);
            at += n;
        }
    }

    private MappedByteBuffer region(int k) throws IOException {
        synchronized (regions) {
            if (regions[k] == null) {
                long start = (long) k * regionBytes;
                long size = Math.min(regionBytes, dataBytes - start);
                regions[k] = data.map(renamed ? FileChannel.MapMode.READ_ONLY : FileChannel.MapMode.READ_WRITE,
                        dataOffset + start, size);
                regions[k].order(ByteOrder.LITTLE_ENDIAN);
            }
            return regions[k];
        }
    }

    /** The row ranges a tile occupies in the file: {offset, bytes} pairs (the block, then its mirror). */
    private List<long[]> ranges(TilePlan.Tile tile) {
        List<long[]> r = new ArrayList<>();
        long tailBytes = (long) plan.tailElements() * elementBytes;
        for (int a = tile.rowFrom(); a < tile.rowTo(); a++) {
            r.add(new long[] {offset(a, tile.columnFrom()), tile.columns() * tailBytes});
        }
        if (tile.mirrored()) {
            for (int b = tile.columnFrom(); b < tile.columnTo(); b++) {
                r.add(new long[] {offset(b, tile.rowFrom()), tile.rows() * tailBytes});
            }
        }
        return r;
    }

    /**
     * Forces the tile's bytes to disk: in each region it touches, the span from its first byte there to its last (the
     * tile's rows, not the whole region: forcing a region scans all of it, so a run of many small tiles spent a third
     * of its time there, growing with the file).
     */
    private void force(TilePlan.Tile tile) throws IOException {
        long[] from = new long[regions.length];
        long[] to = new long[regions.length];
        Arrays.fill(from, Long.MAX_VALUE);
        for (long[] rg : ranges(tile)) {
            if (rg[1] == 0) {
                continue;
            }
            long last = rg[0] + rg[1]; // exclusive
            for (long k = rg[0] / regionBytes; k <= (last - 1) / regionBytes; k++) {
                long start = k * regionBytes;
                from[(int) k] = Math.min(from[(int) k], Math.max(rg[0], start) - start);
                to[(int) k] = Math.max(to[(int) k], Math.min(last, start + regionBytes) - start);
            }
        }
        for (int k = 0; k < regions.length; k++) {
            if (from[k] < to[k]) {
                region(k).force((int) from[k], (int) (to[k] - from[k]));
            }
        }
    }

    /** CRC32C of the tile's bytes in the file: its block rows, then its mirror's rows. */
    long checksum(TilePlan.Tile tile) throws IOException {
        CRC32C crc = new CRC32C();
        // the mapped bytes go through a heap array: a copy out of a mapped page the file system cannot back (a full
        // disk) raises an InternalError that the writer turns into its one-line error, whereas CRC32C's intrinsic
        // reading the mapping directly crashed the JVM with SIGBUS (seen in CI)
        byte[] chunk = new byte[(int) Math.min(1 << 16, regionBytes)];
        for (long[] rg : ranges(tile)) {
            long at = rg[0];
            long left = rg[1];
            while (left > 0) {
                int k = (int) (at / regionBytes);
                ByteBuffer b = region(k).duplicate();
                int pos = (int) (at - k * regionBytes);
                int n = (int) Math.min(Math.min(left, b.capacity() - pos), chunk.length);
                b.position(pos);
                b.get(chunk, 0, n);
                crc.update(chunk, 0, n);
                at += n;
                left -= n;
            }
        }
        return crc.getValue();
    }

    private void record(int index, long crc) throws IOException {
        synchronized (finished) {
            Long had = finished.get(index);
            if (had != null) {
                if (had != crc) {
                    throw new IOException("tile store: tile " + index + " was written again with other bytes "
                            + "(checksum " + Long.toHexString(crc) + ", recorded " + Long.toHexString(had)
                            + "): the run is not deterministic or the file was changed");
                }
                return;
            }
            requireFiles();
            // read and append through the locked channel only: closing any other descriptor of the file would
            // release this process's lock (POSIX record locks)
            try (FileChannel m = FileChannel.open(manifest, StandardOpenOption.READ, StandardOpenOption.WRITE);
                 FileLock lock = m.lock()) {
                readAppended(m);
                if (!manifestTiles.containsKey(index)) { // another process may have recorded it meanwhile
                    String line = "tile " + index + " " + Long.toHexString(crc);
                    String full = line + " " + crcHex(line.getBytes(StandardCharsets.UTF_8)) + "\n";
                    try {
                        byte[] bytes = full.getBytes(StandardCharsets.UTF_8);
                        long at = m.size();
                        m.write(ByteBuffer.wrap(bytes), at);
                        m.force(true);
                        if (at == manifestBytes) { // the line follows what was read: read, as this tile's
                            manifestBytes += bytes.length;
                            manifestLines++;
                            manifestTiles.put(index, crc);
                        }
                    } catch (IOException e) {
                        throw AtomicFile.cannotWrite(manifest, e, "--resume continues the run once that is fixed");
                    }
                }
                finished.put(index, crc);
            }
        }
    }

    /** Bytes of the manifest that recording tiles has read so far (tests: about its size, not tiles × size). */
    long manifestBytesRead() {
        synchronized (finished) {
            return manifestBytesRead;
        }
    }

    /**
     * Brings {@link #manifestTiles} up to date with the manifest (locked by the caller): the whole file the first
     * time, then only the complete lines appended since (by this store or another process); a file shorter than
     * what was read (cut, or replaced) is read whole again.
     */
    private void readAppended(FileChannel m) throws IOException {
        long size = m.size();
        if (size < manifestBytes) {
            manifestBytes = 0;
        }
        ByteBuffer more = ByteBuffer.allocate(Math.toIntExact(size - manifestBytes));
        while (more.hasRemaining() && m.read(more, manifestBytes + more.position()) > 0) {
            // read what was appended
        }
        byte[] b = more.array();
        manifestBytesRead += b.length;
        int end = b.length;
        while (end > 0 && b[end - 1] != '\n') {
            end--; // a line still being written (or torn): read once complete
        }
        String text = new String(b, 0, end, StandardCharsets.UTF_8);
        if (manifestBytes == 0) {
            Manifest all = Manifest.parse(text, manifest); // the header and its checksum too
            manifestTiles.clear();
            manifestTiles.putAll(all.tiles);
            manifestLines = (int) text.chars().filter(c -> c == '\n').count();
        } else {
            String[] lines = text.split("\n");
            for (int i = 0; i < lines.length && end > 0; i++) {
                Manifest.tileLine(lines[i], manifestLines + i + 1, manifest, manifestTiles);
            }
            manifestLines += end == 0 ? 0 : lines.length;
        }
        manifestBytes += end;
    }

    /**
     * Fails when OUT.partial or OUT.manifest was deleted or replaced since the store opened them (the data would go
     * to a file nobody sees, or the tiles be recorded nowhere); the other file, useless alone, is removed. The
     * first worker to notice decides what went missing and removes the other file; every later call (the other
     * workers', the finish) fails with the same message, not with one about the file this store removed itself.
     */
    private void requireFiles() throws IOException {
        synchronized (finished) {
            if (stopped != null) {
                throw new IOException(stopped);
            }
            boolean partialGone = partialKey != null && !partialKey.equals(fileKey(partial));
            boolean manifestGone = manifestKey != null && !manifestKey.equals(fileKey(manifest));
            if (!partialGone && !manifestGone) {
                return;
            }
            Path gone = partialGone ? partial : manifest;
            Path other = partialGone ? manifest : partial;
            Object otherKey = partialGone ? manifestKey : partialKey;
            if (otherKey != null && otherKey.equals(fileKey(other))) {
                Files.deleteIfExists(other);
            }
            stopped = (partialGone && manifestGone ? partial + " and " + manifest + " were" : gone + " was")
                    + " deleted or replaced during the run; the run stopped" + (partialGone && manifestGone ? ""
                    : " and " + other + " is removed") + " (run the command again to start over)";
            throw new IOException(stopped);
        }
    }

    /**
     * Completes the run: every tile must be recorded and match its checksum; then the file is forced to disk,
     * renamed to OUT (replacing it) and the manifest removed. Returns OUT. The store is closed afterwards.
     *
     * @return OUT
     * @throws IllegalStateException if the store is closed or opened for data only
     * @throws IOException if a tile is missing or corrupt, or the files cannot be forced, renamed or removed
     */
    public Path finish() throws IOException {
        finishAll(List.of(this));
        return out;
    }

    /**
     * Completes the files of one run together (an ensemble's kernel and its standard error): every store is checked
     * as {@link #finish()} checks it and forced to disk, then every data file is renamed to its OUT, then the
     * manifests are removed, the first store's last. A run killed part way is thus resumable: before the renames
     * nothing changed; after some, each renamed OUT still has its manifest, by which {@link #resume} recognises it;
     * after some removals, the first store's manifest is the one left. The stores are closed afterwards. An OUT
     * that did not exist when its store was opened, and exists now (another program wrote it during the run), is
     * not replaced: the IOException says so, and the run stays resumable.
     *
     * @param stores the stores, the run's main output first
     * @throws IllegalStateException if a store is closed or opened for data only
     * @throws IOException if a tile is missing or corrupt, or the files cannot be forced, renamed or removed
     */
    public static void finishAll(List<TileStore> stores) throws IOException {
        renameAll(stores);
        removeManifests(stores);
    }

    /**
     * The first half of {@link #finishAll}: every store checked and forced, then every data file renamed to its OUT
     * (each rename made durable, {@link AtomicFile#moveOnto}); the manifests stay, so that the run is still
     * resumable ({@link #resume} of a renamed OUT checks it and recomputes nothing) until {@link #removeManifests}.
     * {@link TiledKernelRun} writes its caller's report in between: a report that cannot be written leaves a run
     * that {@code --resume} completes without computing a tile.
     */
    static void renameAll(List<TileStore> stores) throws IOException {
        for (TileStore s : stores) {
            s.checkAndForce();
        }
        for (TileStore s : stores) {
            s.close();
            if (s.renamed) {
                continue;
            }
            // OUT did not exist when the run began (or resumed), so the user asked for no file to be replaced: one
            // that another program wrote there meanwhile stays, and the finished kernel, resumable, in OUT.partial
            try {
                AtomicFile.moveOnto(s.partial, s.out, s.outExisted);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                throw new IOException(s.out + " appeared during the run (another program wrote it) and was not "
                        + "replaced: the finished kernel is kept in " + s.partial + "; move " + s.out.getFileName()
                        + " away and run the same command with --resume to finish", e);
            }
        }
    }

    /**
     * The second half of {@link #finishAll}: the manifests removed, the first store's last, each removal made
     * durable by forcing its directory (a removal lost to a power loss would leave the first store's manifest
     * beside a finished OUT: a state {@link #resume} accepts, but the next plain run would have to be told
     * {@code --resume}).
     */
    static void removeManifests(List<TileStore> stores) throws IOException {
        for (int i = stores.size() - 1; i >= 0; i--) {
            deleteJournals(stores.get(i).out); // first: every tile is recorded, and none is left beside OUT
            Path manifest = stores.get(i).manifest;
            Files.delete(manifest);
            AtomicFile.forceDirectory(manifest.toAbsolutePath().getParent());
        }
    }

    /** The checks of {@link #finish()}: every tile recorded and matching its checksum; then the data forced. */
    private void checkAndForce() throws IOException {
        ensureOwner();
        requireFiles();
        Manifest m = Manifest.read(manifest);
        List<Integer> missing = new ArrayList<>();
        for (TilePlan.Tile t : plan.tiles()) {
            if (!m.tiles.containsKey(t.index())) {
                missing.add(t.index());
            }
        }
        if (!missing.isEmpty()) {
            throw new IOException("tile store: cannot finish " + out + ": " + missing.size() + " of " + plan.tileCount()
                    + " tiles are missing (first " + missing.get(0) + ")");
        }
        for (TilePlan.Tile t : plan.tiles()) {
            if (checksum(t) != m.tiles.get(t.index())) {
                throw new IOException(partial + " is corrupt: tile " + t.index() + "'s data does not match "
                        + "its checksum; delete it and " + manifest + " to start again");
            }
        }
        if (renamed) {
            return; // OUT, already on disk (a finish forced it before renaming it)
        }
        for (int k = 0; k < regions.length; k++) {
            if (regions[k] != null) {
                regions[k].force();
            }
        }
        data.force(true);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("tile store for " + out + " is closed");
        }
    }

    /** Closes the data file (the maps are released by the garbage collector); the files stay. */
    @Override
    public void close() throws IOException {
        if (!closed) {
            closed = true;
            synchronized (this) {
                if (journal != null) {
                    journal.close();
                }
            }
            data.close();
        }
    }

    private static String crcHex(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return Long.toHexString(c.getValue());
    }

    /** The parsed manifest. */
    private static final class Manifest {
        final Map<String, String> header = new LinkedHashMap<>();
        final Map<Integer, Long> tiles = new HashMap<>();
        /** The header's checksum: the run, as data-only writers' journals name it. */
        String headerCrc;

        static Manifest read(Path path) throws IOException {
            // bad bytes: replaced, then rejected
            return parse(new String(Files.readAllBytes(path), StandardCharsets.UTF_8), path);
        }

        static Manifest parse(String text, Path path) throws IOException {
            String[] lines = text.split("\n", -1);
            // lines[last] is what follows the final newline: empty, or a line torn by a crash (ignored)
            Manifest m = new Manifest();
            if (lines.length < 2 || !lines[0].equals(MAGIC)) {
                throw corrupt(path, "it does not start with '" + MAGIC + "'");
            }
            StringBuilder body = new StringBuilder(MAGIC).append('\n');
            int i = 1;
            for (; i < lines.length - 1 && !lines[i].startsWith("header-crc "); i++) {
                int sp = lines[i].indexOf(' ');
                if (sp <= 0) {
                    throw corrupt(path, "line " + (i + 1) + " is not 'key value': '" + lines[i] + "'");
                }
                m.header.put(lines[i].substring(0, sp), lines[i].substring(sp + 1));
                body.append(lines[i]).append('\n');
            }
            if (i >= lines.length - 1) {
                throw corrupt(path, "its header has no checksum line");
            }
            String crc = crcHex(body.toString().getBytes(StandardCharsets.UTF_8));
            if (!lines[i].equals("header-crc " + crc)) {
                throw corrupt(path, "its header does not match its checksum");
            }
            m.headerCrc = crc;
            for (i++; i < lines.length - 1; i++) {
                tileLine(lines[i], i + 1, path, m.tiles);
            }
            return m;
        }

        /** Parses line {@code number} of the manifest, {@code tile INDEX CRC LINE-CRC}, into {@code tiles}. */
        static void tileLine(String text, int number, Path path, Map<Integer, Long> tiles) throws IOException {
            String[] f = text.split(" ");
            if (f.length != 4 || !f[0].equals("tile")) {
                throw corrupt(path, "line " + number + " is not 'tile INDEX CRC LINE-CRC': '" + text + "'");
            }
            String line = f[0] + " " + f[1] + " " + f[2];
            if (!f[3].equals(crcHex(line.getBytes(StandardCharsets.UTF_8)))) {
                throw corrupt(path, "line " + number + " does not match its checksum: '" + text + "'");
            }
            int index;
            long value;
            try {
                index = Integer.parseInt(f[1]);
                value = Long.parseLong(f[2], 16);
            } catch (NumberFormatException e) {
                throw corrupt(path, "line " + number + " has a bad number: '" + text + "'");
            }
            Long had = tiles.put(index, value);
            if (had != null && had != value) {
                throw corrupt(path, "tile " + index + " is recorded twice with different checksums");
            }
        }

        private static IOException corrupt(Path path, String why) {
            return new IOException("manifest " + path + " is corrupt: " + why + "; delete it and "
                    + path.getFileName().toString().replaceFirst("\\.manifest$", ".partial")
                    + " to start again");
        }
    }
}
