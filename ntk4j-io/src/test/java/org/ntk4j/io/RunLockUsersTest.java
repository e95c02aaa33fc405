package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code OUT.lock} in a directory several users write (a group's project directory): a lock file left by one
 * user's run that was killed or stopped by a signal (which leaves it since 2026-12-07) is taken by another user's
 * next run, and one that user cannot open is refused in one line saying what to do, not with an
 * AccessDeniedException naming the file. The other user is {@code nobody} (uid 65534), through {@code setpriv}: the
 * test needs root, as CI has (with {@code NTK4J_REQUIRE_TMPFS=1}, .ci/run, it fails rather than skips without it).
 */
class RunLockUsersTest {
    private static final String NOBODY = "65534";

    /**
     * The lock file is as writable as its directory: every user who may write OUT there may take it over. A new file
     * (created under the umask) gains the directory's group and others' write; one left by a killed run, rw-------
     * here, exactly those.
     */
    @Test
    void aLockFileIsWritableByWhoeverMayWriteItsDirectory(@TempDir Path dir) throws IOException {
        String[][] cases = {{"rwxrwxrwx", "rw-rw-rw-"}, {"rwxrwxr-x", "rw-rw----"}, {"rwx------", "rw-------"}};
        for (String[] c : cases) {
            Path d = Files.createDirectory(dir.resolve(c[0]));
            Files.setPosixFilePermissions(d, PosixFilePermissions.fromString(c[0]));
            Path out = d.resolve("k.npy");
            Set<PosixFilePermission> dirMode = PosixFilePermissions.fromString(c[0]);
            try (TileStore.RunLock lock = TileStore.lock(out)) {
                Set<PosixFilePermission> mode = Files.getPosixFilePermissions(TileStore.lockPath(out));
                for (PosixFilePermission w : new PosixFilePermission[] {PosixFilePermission.GROUP_WRITE,
                        PosixFilePermission.OTHERS_WRITE}) {
                    if (dirMode.contains(w)) {
                        assertThat(mode).as("a new lock file in %s", c[0]).contains(w);
                    }
                }
            }
            Files.writeString(TileStore.lockPath(out), "ntk4j pid 1 dead\n");
            Files.setPosixFilePermissions(TileStore.lockPath(out), PosixFilePermissions.fromString("rw-------"));
            try (TileStore.RunLock lock = TileStore.lock(out)) {
                assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(TileStore.lockPath(out))))
                        .as("a lock file left in %s", c[0]).isEqualTo(c[1]);
            }
        }
    }

    /**
     * A run of this user (root) stopped by a signal leaves OUT.lock; another user's run on OUT takes it, and its end
     * lets OUT go (the file removed, or left unlocked in a sticky directory, where only its owner may delete it).
     * One this user cannot open (left by an ntk4j before 2026-12-07, which did not widen it) is refused in one line;
     * one held by a live run is "another ntk4j is writing OUT" for every user.
     */
    @Test
    void anotherUsersNextRunTakesALockFileLeftBehind(@TempDir Path dir) throws Exception {
        requireRoot();
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        for (String mode : new String[] {"rwxrwxrwx", "rwxrwxrwt"}) {
            Path d = Files.createDirectory(dir.resolve(mode.endsWith("t") ? "sticky" : "shared"));
            setMode(d, mode.endsWith("t") ? "1777" : "777");
            Path out = d.resolve("k.npy");
            // as a signalled run leaves it: its process gone before it let go, its file in place
            assertThat(probe(dir, out, false, "halt")).isEqualTo("claimed");
            assertThat(TileStore.lockPath(out)).exists();
            assertThat(probe(dir, out, true, "close")).as(mode).isEqualTo("claimed");
            if (mode.endsWith("t")) {
                assertThat(TileStore.lockPath(out)).as("root's file in a sticky directory").exists();
            } else {
                assertThat(TileStore.lockPath(out)).doesNotExist();
            }
            try (TileStore.RunLock live = TileStore.lock(out)) {
                assertThat(probe(dir, out, true, "close")).isEqualTo("another ntk4j is writing " + out);
            }
        }
        // left by an earlier ntk4j: root's, rw-r--r--
        Path d = Files.createDirectory(dir.resolve("old"));
        setMode(d, "777");
        Path out = d.resolve("k.npy");
        Files.writeString(TileStore.lockPath(out), "ntk4j pid 1 dead\n");
        Files.setPosixFilePermissions(TileStore.lockPath(out), PosixFilePermissions.fromString("rw-r--r--"));
        assertThat(probe(dir, out, true, "close")).isEqualTo("cannot claim " + out + ": its lock file "
                + TileStore.lockPath(out) + " is root's, left by a run that has ended, and this user cannot write it "
                + "(delete it: no run holds it now)");
        try (TileStore.RunLock live = TileStore.lock(out)) {
            assertThat(probe(dir, out, true, "close")).isEqualTo("another ntk4j is writing " + out);
        }
        // one this user cannot even read: whether a run holds it cannot be told
        Path lockFile = Files.writeString(TileStore.lockPath(out), "ntk4j pid 1 dead\n");
        Files.setPosixFilePermissions(lockFile, PosixFilePermissions.fromString("rw-------"));
        assertThat(probe(dir, out, true, "close")).isEqualTo("cannot claim " + out + ": its lock file " + lockFile
                + " is root's, and this user can neither write nor read it (delete it once no ntk4j writes " + out
                + ")");
    }

    private static void requireRoot() throws Exception {
        Process p = new ProcessBuilder("id", "-u").redirectErrorStream(true).start();
        String uid = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor();
        if (uid.equals("0")) {
            return;
        }
        if ("1".equals(System.getenv("NTK4J_REQUIRE_TMPFS"))) {
            throw new AssertionError("another user's run needs root (setpriv); NTK4J_REQUIRE_TMPFS=1: run as "
                    + "root");
        }
        Assumptions.abort("another user's run needs root (setpriv)");
    }

    private static void setMode(Path p, String mode) throws Exception {
        assertThat(new ProcessBuilder("chmod", mode, p.toString()).start().waitFor()).isZero();
    }

    /**
     * Tries {@link TileStore#lock} on OUT once in a JVM of its own, as user nobody or as this one: "claimed", or the
     * refusal's message. Its class path is a copy of the classes it needs under {@code dir}, which nobody can read
     * wherever the build is (a home directory of mode 700).
     *
     * @param then "close" (the claim let go as a run that ends lets it go) or "halt" (as a process killed)
     */
    private static String probe(Path dir, Path out, boolean nobody, String then) throws Exception {
        Path cp = dir.resolve("cp");
        if (!Files.exists(cp)) {
            List<String> entries = new ArrayList<>();
            int n = 0;
            for (Class<?> c : new Class<?>[] {Probe.class, TileStore.class, org.ntk4j.ntk.TilePlan.class}) {
                Path from = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
                Path to = cp.resolve(Integer.toString(n++) + (Files.isDirectory(from) ? "" : ".jar"));
                try (java.util.stream.Stream<Path> files = Files.walk(from)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        Path copy = to.resolve(from.relativize(f).toString());
                        Files.createDirectories(copy.getParent());
                        if (!Files.isDirectory(f)) {
                            Files.copy(f, Files.isDirectory(from) ? copy : to);
                        } else {
                            Files.createDirectories(copy);
                        }
                    }
                }
                entries.add(to.toString());
            }
            assertThat(new ProcessBuilder("chmod", "-R", "a+rX", cp.toString()).start().waitFor()).isZero();
            Files.writeString(dir.resolve("cp.txt"), String.join(java.io.File.pathSeparator, entries));
        }
        List<String> cmd = new ArrayList<>();
        if (nobody) {
            cmd.addAll(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"));
        }
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx64m", "-cp",
                Files.readString(dir.resolve("cp.txt")), Probe.class.getName(), out.toString(), then));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    }

    /** Another process (user) trying to claim OUT: prints "claimed", or the refusal's message. */
    public static final class Probe {
        private Probe() {
        }

        /**
         * Tries {@link TileStore#lock} on OUT once; then lets the claim go ("close") or halts holding it ("halt").
         *
         * @param args OUT, and "close" or "halt"
         * @throws IOException if releasing a claim it got fails
         */
        public static void main(String[] args) throws IOException {
            TileStore.RunLock lock;
            try {
                lock = TileStore.lock(Path.of(args[0]));
            } catch (IOException busy) {
                System.out.println(busy.getMessage());
                return;
            }
            System.out.println("claimed");
            System.out.flush();
            if (args[1].equals("halt")) {
                Runtime.getRuntime().halt(0);
            }
            lock.close();
        }
    }
}
