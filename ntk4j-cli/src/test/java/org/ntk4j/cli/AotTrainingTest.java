package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's ahead-of-time cache is trained by {@link AotTraining}; a command of it that stops working (an
 * option renamed, a model removed) would leave every JDK 25 start without the cache, silently. So each of its
 * commands runs here and exits 0, and every report it was asked for is written, non-empty.
 */
class AotTrainingTest {
    @Test
    void everyTrainingCommandRunsAndWritesItsReport(@TempDir Path dir) throws Exception {
        List<Path> written = AotTraining.train(dir);
        assertThat(written).hasSize((int) AotTraining.COMMANDS.stream()
                .flatMap(c -> java.util.Arrays.stream(c)).filter("OUT"::equals).count());
        for (Path p : written) {
            assertThat(p).as("report %s", p).exists();
            assertThat(Files.size(p)).as("report %s", p).isPositive();
        }
    }
}
