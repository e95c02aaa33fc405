package org.ntk4j.onnx;

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
 * Runs the test resource {@code torch_onnx_reference.py} with Debian's /usr/bin/python3 (python3-torch). CI sets
 * NTK4J_REQUIRE_TORCH=1: there a missing torch fails the test instead of skipping it.
 */
final class TorchReference {
    static final String PYTHON = "/usr/bin/python3";
    private static Boolean torch;
    private static Boolean torchvision;

    private TorchReference() {
    }

    static synchronized boolean torchPresent() {
        if (torch == null) {
            try {
                Process p = new ProcessBuilder(PYTHON, "-c", "import torch").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                torch = p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
            } catch (IOException | InterruptedException e) {
                torch = false;
            }
        }
        return torch;
    }

    /** Fails under NTK4J_REQUIRE_TORCH=1 without torch; elsewhere skips, saying so. */
    static void requireTorch() {
        assertThat(torchPresent() || !"1".equals(System.getenv("NTK4J_REQUIRE_TORCH")))
                .as("NTK4J_REQUIRE_TORCH=1 but %s cannot import torch (apt-get install python3-torch)",
                        PYTHON)
                .isTrue();
        assumeTrue(torchPresent(), "SKIPPED: " + PYTHON + " cannot import torch; the PyTorch comparison is "
                + "not checked here. apt-get install python3-torch to run it.");
    }

    /** Fails under NTK4J_REQUIRE_TORCH=1 without torch and torchvision; elsewhere skips, saying so. */
    static synchronized void requireTorchvision() {
        requireTorch();
        if (torchvision == null) {
            try {
                Process p = new ProcessBuilder(PYTHON, "-c", "import torchvision").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                torchvision = p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
            } catch (IOException | InterruptedException e) {
                torchvision = false;
            }
        }
        assertThat(torchvision || !"1".equals(System.getenv("NTK4J_REQUIRE_TORCH")))
                .as("NTK4J_REQUIRE_TORCH=1 but %s cannot import torchvision (apt-get install python3-torchvision)",
                        PYTHON)
                .isTrue();
        assumeTrue(torchvision, "SKIPPED: " + PYTHON + " cannot import torchvision; the torchvision comparison is "
                + "not checked here. apt-get install python3-torchvision to run it.");
    }

    /** Runs a script from the test resources with arguments; returns its output, failing on a non-zero exit. */
    static String run(Path dir, String script, String... args) throws IOException, InterruptedException {
        Path file = dir.resolve(script);
        if (!Files.exists(file)) {
            try (InputStream s = TorchReference.class.getResourceAsStream(script)) {
                Files.copy(s, file);
            }
        }
        List<String> cmd = new java.util.ArrayList<>(List.of(PYTHON, file.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0).as(out).isTrue();
        return out;
    }
}
