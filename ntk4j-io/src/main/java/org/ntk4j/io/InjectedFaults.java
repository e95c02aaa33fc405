package org.ntk4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;

/**
 * A full disk on demand, for tests on machines where no small file system can be mounted: the system property
 * {@value #PROPERTY} = {@code NAME[@N]} makes writes to files named NAME fail as on a full disk. Through
 * {@link AtomicFile}: after N bytes (default 64), an {@code IOException("No space left on device")}. For a tiled
 * run's {@code OUT.partial}: without {@code @N}, the up-front check of its space fails; with {@code @N}, the
 * memory-mapped write of the (N+1)-th tile faults as a mapped write to a full disk does (an
 * {@link InternalError}); with {@code @N}{@value #LOST}, that write is lost and no fault is raised at all, as when
 * HotSpot delivers the SIGBUS's error only after the writer has moved on. Unset (always, outside tests), nothing
 * changes.
 */
final class InjectedFaults {
    static final String PROPERTY = "ntk4j.test.disk-full";
    static final String NO_SPACE = "No space left on device";
    /** The suffix of {@code NAME@N} that loses the (N+1)-th tile's mapped write without a fault. */
    static final String LOST = ":lost";
    /**
     * System property: the bytes free on every file system as the up-front space checks of a tiled run see them
     * ({@link TileStore#requireSpace}), for tests of a disk too small without a small file system to mount.
     */
    static final String USABLE_SPACE = "ntk4j.test.usable-space";

    private InjectedFaults() {
    }

    /** N of {@code NAME@N} when the property names {@code file}; -1 when it names it without N; null otherwise. */
    static Long limit(Path file) {
        String v = System.getProperty(PROPERTY);
        if (v == null || v.isEmpty() || file.getFileName() == null) {
            return null;
        }
        int at = v.lastIndexOf('@');
        String name = at < 0 ? v : v.substring(0, at);
        if (!name.equals(file.getFileName().toString())) {
            return null;
        }
        String n = at < 0 ? null : v.substring(at + 1);
        return n == null ? -1L : Long.parseLong(n.endsWith(LOST) ? n.substring(0, n.length() - LOST.length()) : n);
    }

    /** The usable bytes of {@code store}: {@link #USABLE_SPACE} when set, else what the file system says. */
    static long usableSpace(java.nio.file.FileStore store) throws IOException {
        String v = System.getProperty(USABLE_SPACE);
        return v == null || v.isEmpty() ? store.getUsableSpace() : Long.parseLong(v);
    }

    /** Whether the property names {@code file} with {@code @N}{@value #LOST}: a mapped write lost without a fault. */
    static boolean lost(Path file) {
        Long n = limit(file);
        return n != null && n >= 0 && System.getProperty(PROPERTY).endsWith(LOST);
    }

    /** {@code ch}, or a channel that fails once the injected limit of bytes for {@code target} is written. */
    static WritableByteChannel channel(Path target, WritableByteChannel ch) {
        Long n = limit(target);
        if (n == null) {
            return ch;
        }
        long limit = n < 0 ? 64 : n;
        return new WritableByteChannel() {
            private long written;

            @Override
            public int write(ByteBuffer src) throws IOException {
                if (written + src.remaining() > limit) {
                    ByteBuffer part = src.duplicate();
                    part.limit(part.position() + (int) (limit - written));
                    written += ch.write(part);
                    throw new IOException(NO_SPACE);
                }
                int w = ch.write(src);
                written += w;
                return w;
            }

            @Override
            public boolean isOpen() {
                return ch.isOpen();
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }
}
