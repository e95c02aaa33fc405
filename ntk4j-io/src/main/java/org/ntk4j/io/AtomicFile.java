package org.ntk4j.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Writes a file whole or not at all: the bytes go to a hidden temporary file in the target's directory
 * ({@code .NAME.tmp-RANDOM}), which is forced to disk and then renamed atomically onto the target, and the
 * directory is forced after the rename ({@link #moveOnto}), so the new name survives a power loss. A failure
 * (a full disk, say) deletes the temporary file and leaves the target as it was: the previous file, or none.
 * Every non-tiled writer of ntk4j goes through here ({@link Npy}, {@link Npz}, {@link JsonReport}, the PNG charts).
 *
 * <p>A target that is a symbolic link is followed, as the shell's {@code >} follows it: the file the link points
 * to (through any chain of links; it may not exist yet) is the one written, its temporary file beside it, in its
 * directory, and the link stays a link ({@link #destination}). A process killed before its rename (kill -9,
 * power loss) leaves its {@code .NAME.tmp-RANDOM} behind: never under the final name, and safe to delete once no
 * ntk4j command is writing NAME.
 *
 * <p>A replaced file is a new file: it keeps the permission bits of the file it replaces (where the file system has
 * POSIX permissions), not its owner, and other hard links to the old file keep the old content. Replacing needs a
 * writable directory, not a writable file: a read-only file is replaced as {@code mv -f} replaces it (the callers
 * replace a file only when told to, {@link OutputFiles}).
 */
public final class AtomicFile {
    private static final SecureRandom RANDOM = new SecureRandom();
    /**
     * The files (destinations, absolute and normalised) a command was told not to replace: its outputs that did not
     * exist when {@link OutputFiles#check} ran without --overwrite. A write to one refuses a file that appeared there
     * since (another program's, or a second command's with the same output) instead of replacing it; once written
     * the file is the command's own and may be written again. Forgotten when the command ends
     * ({@link #forgetNewFiles}).
     */
    private static final Set<Path> NEW_FILES = ConcurrentHashMap.newKeySet();
    private static final String APPEARED = "it appeared while the command ran (another program wrote it) and was not "
            + "replaced; pass --overwrite to replace it";

    /**
     * Told of each directory {@link #forceDirectory} forced; null (always, outside tests): nobody. Tests set it to
     * see that every rename of an output is made durable.
     */
    static volatile java.util.function.Consumer<Path> directorySynced;

    private AtomicFile() {
    }

    /** What produces a file's bytes (closing the channel it is given does nothing: the file is forced after). */
    @FunctionalInterface
    public interface Body {
        /**
         * Writes the file's whole content.
         *
         * @param channel the temporary file's channel, positioned at its start; the body need not close it
         * @throws IOException if the bytes cannot be produced or written; the write is then abandoned
         */
        void write(WritableByteChannel channel) throws IOException;
    }

    /**
     * Writes {@code target} with {@code body} through a temporary file and an atomic rename.
     *
     * @param link the file to create or replace (a symbolic link: the file it points to); its directory must exist
     * @param body what writes the file's bytes
     * @throws IllegalArgumentException if {@code link} has no file name (a root directory)
     * @throws IOException "cannot write TARGET: REASON (the previous TARGET is unchanged)" (or "(no TARGET was
     *     written)"), with no temporary file left behind
     */
    public static void write(Path link, Body body) throws IOException {
        if (link.getFileName() == null) {
            throw new IllegalArgumentException("cannot write " + link + ": not a file name");
        }
        Path target = destination(link);
        Path name = target.getFileName();
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = dir.resolve("." + name + ".tmp-" + Long.toHexString(RANDOM.nextLong() >>> 1));
        boolean existed = Files.exists(target);
        boolean mustBeNew = NEW_FILES.contains(target.toAbsolutePath().normalize());
        if (existed && mustBeNew) {
            throw cannotWrite(target, new FileSystemException(target.toString(), null, APPEARED),
                    "the file there is unchanged");
        }
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                body.write(InjectedFaults.channel(target, new Shielded(ch)));
                ch.force(true);
            }
            try {
                moveOnto(tmp, target, !mustBeNew);
            } catch (FileAlreadyExistsException e) {
                throw new FileSystemException(target.toString(), null, APPEARED);
            }
            if (mustBeNew) {
                NEW_FILES.remove(target.toAbsolutePath().normalize());
            }
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw cannotWrite(target, e, existed ? "the previous " + name + " is unchanged"
                    : "no " + name + " was written");
        } catch (RuntimeException | Error e) {
            deleteQuietly(tmp);
            throw e;
        }
    }

    /**
     * Renames {@code tmp} onto {@code target} in the same directory: replacing it, atomically and with its permission
     * bits, where {@code replace}; else only if no file is there, a {@link FileAlreadyExistsException} otherwise
     * (rename(2) after the JDK's check that the target is absent: not atomic against a file created in between, but
     * the window is that of the rename, not of the command). The one rename of every output, a tiled run's
     * {@code OUT.partial} ({@link TileStore#finishAll}) included. The caller forces {@code tmp}'s data to disk
     * first; the rename is then made durable by forcing the directory ({@link #forceDirectory}), so that a power
     * loss right after it cannot bring back the old name (or no file) once the command has said it wrote
     * {@code target}.
     */
    static void moveOnto(Path tmp, Path target, boolean replace) throws IOException {
        if (!replace) {
            Files.move(tmp, target);
        } else {
            if (Files.exists(target)) {
                keepPermissions(target, tmp);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        forceDirectory(target.toAbsolutePath().getParent());
    }

    /**
     * Marks an output that does not exist and must not be replaced by a file another program writes there before this
     * command writes it ({@link OutputFiles#check} without --overwrite).
     */
    static void expectNew(Path link) throws IOException {
        NEW_FILES.add(destination(link).toAbsolutePath().normalize());
    }

    /** Lets {@code link} be replaced again (an output checked with --overwrite). */
    static void mayReplace(Path link) throws IOException {
        NEW_FILES.remove(destination(link).toAbsolutePath().normalize());
    }

    /**
     * Forgets the outputs marked by {@link OutputFiles#check}: called when a command ends, so that a later command,
     * or a program that embeds ntk4j, replaces files as it is told to.
     */
    public static void forgetNewFiles() {
        NEW_FILES.clear();
    }

    /**
     * Writes text, in UTF-8, whole or not at all ({@link #write(Path, Body)}): what every report and table file is
     * written with.
     *
     * @param link the file to create or replace (a symbolic link: the file it points to); its directory must exist
     * @param text the file's whole content
     * @throws IOException as {@link #write(Path, Body)}, the previous file unchanged
     */
    public static void writeString(Path link, String text) throws IOException {
        byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        write(link, channel -> NpyIO.writeFully(channel, java.nio.ByteBuffer.wrap(bytes)));
    }

    /**
     * The file a write to {@code path} replaces: {@code path} itself, or, when it is a symbolic link, the file at
     * the end of its chain of links (which need not exist yet; a relative link is resolved against the link's own
     * directory), so that the link stays and its target is replaced, in its own directory.
     *
     * @param path the path named by the user
     * @return the file to write
     * @throws IOException if a link cannot be read, or the chain is longer than 40 links (a loop)
     */
    public static Path destination(Path path) throws IOException {
        Path p = path;
        for (int hops = 0; Files.isSymbolicLink(p); hops++) {
            if (hops == 40) {
                throw new FileSystemException(path.toString(), null, "too many levels of symbolic links");
            }
            Path parent = p.toAbsolutePath().getParent();
            Path to = Files.readSymbolicLink(p);
            p = parent == null ? to : parent.resolve(to);
        }
        return p;
    }

    /**
     * The one-line error of a failed write: "cannot write FILE: REASON (CONSEQUENCE)", REASON in lower case as
     * the C library says it ("no space left on device"); {@code consequence} may be null.
     *
     * @param file the file that could not be written
     * @param cause the underlying error, kept as the cause
     * @param consequence what the failure left behind, in parentheses after the reason; null for none
     * @return the exception, for the caller to throw
     */

    public static IOException cannotWrite(Path file, IOException cause, String consequence) {
        return new IOException("cannot write " + file + ": " + reason(cause)
                + (consequence == null ? "" : " (" + consequence + ")"), cause);
    }

    /** The reason of an I/O error without the file name the JDK puts in some messages. */
    static String reason(IOException e) {
        String r;
        if (e instanceof NoSuchFileException) {
            r = "no such file or directory";
        } else if (e instanceof AccessDeniedException) {
            r = "permission denied";
        } else if (e instanceof FileSystemException) {
            r = ((FileSystemException) e).getReason();
        } else {
            r = e.getMessage();
        }
        if (r == null || r.isEmpty()) {
            return e.getClass().getSimpleName();
        }
        // "No space left on device" -> "no space left on device"; "EOF ..." stays
        return r.length() > 1 && Character.isUpperCase(r.charAt(0)) && Character.isLowerCase(r.charAt(1))
                ? r.substring(0, 1).toLowerCase(Locale.ROOT) + r.substring(1) : r;
    }

    /**
     * Gives {@code tmp} the permission bits of {@code target}, which it is about to replace; best-effort (a file
     * system without them: skipped).
     */
    private static void keepPermissions(Path target, Path tmp) {
        try {
            Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(target));
        } catch (IOException | UnsupportedOperationException ignored) {
            // the new file keeps the default permissions
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // the original error is the one to report
        }
    }

    /**
     * Makes a rename in {@code dir} durable, as a careful POSIX program does: fsync(2) of the directory, through a
     * channel opened on it for reading (which Linux and the BSDs allow). Not every OS or file system lets a
     * directory be opened or forced (Windows refuses to open one; some network file systems refuse the force):
     * the sync is then skipped, silently, as nothing better can be done there; the file's data was forced before
     * its rename, so only the rename's durability is then best-effort.
     *
     * @param dir the directory whose entries changed
     * @return whether the directory was forced (false: skipped)
     */
    static boolean forceDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException skipped) {
            return false;
        }
        java.util.function.Consumer<Path> seen = directorySynced;
        if (seen != null) {
            seen.accept(dir);
        }
        return true;
    }

    /** The temporary file's channel for a body: closing it leaves the file open for the force and the rename. */
    private static final class Shielded implements WritableByteChannel {
        private final FileChannel ch;

        Shielded(FileChannel ch) {
            this.ch = ch;
        }

        @Override
        public int write(java.nio.ByteBuffer src) throws IOException {
            return ch.write(src);
        }

        @Override
        public boolean isOpen() {
            return ch.isOpen();
        }

        @Override
        public void close() {
            // the writer closes the file
        }
    }
}
