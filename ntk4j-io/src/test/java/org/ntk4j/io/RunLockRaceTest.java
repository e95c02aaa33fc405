package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TileStore#lock} raced by several processes (a file lock is per process: within one JVM the class's own set
 * of held locks decides): each claims and releases OUT as fast as it can, and while it holds the claim it creates a
 * marker file that only one holder at a time may create. A claim that two processes hold at once (one on a lock file
 * already deleted from its path, the other on the new file there) shows as a marker found in place.
 */
class RunLockRaceTest {
    private static final int PROCESSES = 3;
    private static final long MILLIS = 1500;

    @Test
    void processesRacingForOneOutputNeverHoldItTogether(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("k.npy");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> children = new ArrayList<>();
        long start = System.currentTimeMillis() + 1500; // every child started and warmed up by then
        for (int i = 0; i < PROCESSES; i++) {
            children.add(new ProcessBuilder(java, "-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp",
                    System.getProperty("java.class.path"), Child.class.getName(), out.toString(),
                    Long.toString(start), Long.toString(MILLIS)).redirectErrorStream(true).start());
        }
        long claims = 0;
        long together = 0;
        for (Process p : children) {
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertThat(p.exitValue()).as(text).isZero();
            String[] counts = text.split(" ");
            claims += Long.parseLong(counts[0]);
            together += Long.parseLong(counts[1]);
        }
        assertThat(claims).as("claims granted").isGreaterThan(PROCESSES);
        assertThat(together).as("claims held by two processes at once").isZero();
        assertThat(TileStore.lockPath(out)).doesNotExist();
    }

    /** One racing process: {@code OUT START_MILLIS DURATION_MILLIS}; prints the claims granted and those shared. */
    public static final class Child {
        private Child() {
        }

        /**
         * Races for OUT from START_MILLIS for DURATION_MILLIS.
         *
         * @param args OUT, START_MILLIS, DURATION_MILLIS
         * @throws Exception on an unexpected failure
         */
        public static void main(String[] args) throws Exception {
            Path out = Path.of(args[0]);
            Path marker = out.resolveSibling("holder");
            long start = Long.parseLong(args[1]);
            long end = start + Long.parseLong(args[2]);
            while (System.currentTimeMillis() < start) {
                Thread.onSpinWait();
            }
            long claims = 0;
            long together = 0;
            while (System.currentTimeMillis() < end) {
                TileStore.RunLock lock;
                try {
                    lock = TileStore.lock(out);
                } catch (IOException busy) {
                    continue;
                }
                try (TileStore.RunLock held = lock) {
                    claims++;
                    try {
                        Files.createFile(marker);
                    } catch (FileAlreadyExistsException e) {
                        together++;
                        continue;
                    }
                    Files.delete(marker);
                }
            }
            System.out.println(claims + " " + together);
        }
    }
}
