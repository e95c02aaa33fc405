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

    /** The module of export helpers that some scripts import ({@code torch_export_reference.py}). */
    private static final String SHARED_MODULE = "torch_export_reference.py";

    /**
     * Runs a script from the test resources with arguments, the shared module {@value #SHARED_MODULE} copied beside
     * it; returns its output, failing on a non-zero exit.
     */
    static String run(Path dir, String script, String... args) throws IOException, InterruptedException {
        Path file = dir.resolve(script);
        for (String resource : new String[] {script, SHARED_MODULE}) {
            Path copy = dir.resolve(resource);
            if (!Files.exists(copy)) {
                try (InputStream s = TorchReference.class.getResourceAsStream(resource)) {
                    Files.copy(s, copy);
                }
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

    /**
     * Asserts that {@code onnx}'s parameters are the exporting module's: the names and sizes its script wrote to
     * {@code params.txt} ("NAME SIZE" per line), those {@code keep} accepts.
     *
     * @param onnx the imported model
     * @param dir the export's folder
     * @param keep which of the module's parameters the import must have (all but another output's head, say)
     * @param what names the export in a failure
     */
    static void assertParameters(OnnxModel onnx, Path dir, java.util.function.Predicate<String> keep, String what)
            throws IOException {
        List<String> names = new java.util.ArrayList<>();
        long count = 0;
        for (String line : Files.readAllLines(dir.resolve("params.txt"))) {
            String[] p = line.split(" ");
            if (keep.test(p[0])) {
                names.add(p[0]);
                count += Long.parseLong(p[1]);
            }
        }
        assertThat(onnx.parameterNames()).as(what).containsExactlyInAnyOrderElementsOf(names);
        assertThat(onnx.parameterCount()).as(what).isEqualTo(count);
    }

    /** {@link #assertParameters(OnnxModel, Path, java.util.function.Predicate, String)} of every parameter. */
    static void assertParameters(OnnxModel onnx, Path dir) throws IOException {
        assertParameters(onnx, dir, name -> true, dir.toString());
    }

    /**
     * Exports made by one run of a resource script, the first time one of them is asked for (importing torch takes
     * seconds): each test class keeps one, over its static {@code @TempDir}.
     */
    static final class Exports {
        private final boolean torchvision;
        private final String script;
        private final String[] args;
        private boolean made;

        private Exports(boolean torchvision, String script, String... args) {
            this.torchvision = torchvision;
            this.script = script;
            this.args = args.clone();
        }

        /** Exports by {@code script} with {@code args} (before {@code --out DIR}), which needs torch. */
        static Exports torch(String script, String... args) {
            return new Exports(false, script, args);
        }

        /** As {@link #torch}, for a script that needs torchvision too. */
        static Exports torchvision(String script, String... args) {
            return new Exports(true, script, args);
        }

        /**
         * The export {@code name} in {@code dir}, the script run there first if it has not run yet; without torch
         * (or torchvision) fails under NTK4J_REQUIRE_TORCH=1 and skips elsewhere.
         */
        synchronized Path in(Path dir, String name) throws IOException, InterruptedException {
            if (torchvision) {
                requireTorchvision();
            } else {
                requireTorch();
            }
            if (!made) {
                List<String> all = new java.util.ArrayList<>(List.of(args));
                all.add("--out");
                all.add(dir.toString());
                run(dir, script, all.toArray(String[]::new));
                made = true;
            }
            return dir.resolve(name);
        }
    }
}
