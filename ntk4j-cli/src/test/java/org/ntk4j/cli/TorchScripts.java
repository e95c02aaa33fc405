package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a PyTorch script of the test resources with Debian's /usr/bin/python3 (python3-torch). CI sets
 * NTK4J_REQUIRE_TORCH=1: there a missing torch fails the test instead of skipping it.
 */
final class TorchScripts {
    static final String PYTHON = "/usr/bin/python3";

    private TorchScripts() {
    }

    /**
     * Runs {@code script}, a resource beside this class, with {@code dir} as its one argument (where it writes);
     * without torch, fails under NTK4J_REQUIRE_TORCH=1 and skips elsewhere, saying what goes unchecked.
     *
     * @param dir the script's output folder (a copy of the script is put there)
     * @param script the resource's name
     * @param unchecked what the caller's tests check, for the skip's message ("the study of ...")
     */
    static void run(Path dir, String script, String unchecked) throws IOException, InterruptedException {
        boolean torch = torchPresent();
        assertThat(torch || !"1".equals(System.getenv("NTK4J_REQUIRE_TORCH")))
                .as("NTK4J_REQUIRE_TORCH=1 but %s cannot import torch (apt-get install python3-torch)", PYTHON)
                .isTrue();
        assumeTrue(torch, "SKIPPED: " + PYTHON + " cannot import torch; " + unchecked + " is not checked here. "
                + "apt-get install python3-torch to run it.");
        Path copy = dir.resolve(script);
        try (InputStream s = TorchScripts.class.getResourceAsStream(script)) {
            Files.copy(s, copy);
        }
        ProcessBuilder pb = new ProcessBuilder(List.of(PYTHON, copy.toString(), dir.toString()))
                .redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0).as(out).isTrue();
    }

    private static boolean torchPresent() {
        try {
            Process p = new ProcessBuilder(PYTHON, "-c", "import torch").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }
}
