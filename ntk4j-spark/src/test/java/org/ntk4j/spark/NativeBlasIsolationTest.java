package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Spark MLlib's BLAS (netlib) in the same JVM as ntk4j's kernels: it used to open the system's libblas.so.3 into
 * the process's global symbol scope, where it silently replaced OpenBLAS under ntk4j's GEMMs (a kernel's last bits
 * changed, and the reference BLAS is 100× slower); the suite failed whenever a BlockMatrix test ran before a
 * kernel test in one JVM. Each case runs {@link BlasIsolationProbe} in a fresh JVM, since the order of loading is
 * the point.
 */
class NativeBlasIsolationTest {
    /** Debian's reference BLAS (package libblas3, which .ci/run installs): a BLAS that is not ntk4j's OpenBLAS. */
    static final Path REFERENCE_BLAS = Paths.get("/usr/lib/x86_64-linux-gnu/libblas.so.3");

    @Test
    void netlibAfterNtk4jSharesItsOpenBlasAndTheKernelKeepsItsBits() throws Exception {
        String alone = probe(List.of(), "kernel").get(0);
        assertThat(alone).startsWith("kernel ");
        List<String> mixed = probe(List.of(), "kernel", "netlib", "kernel");
        assertThat(mixed.get(1)).as("netlib's BLAS is native (ntk4j's OpenBLAS)").startsWith("netlib JNIBLAS 14.0");
        assertThat(mixed.get(0)).isEqualTo(alone);
        assertThat(mixed.get(2)).as("after MLlib's BLAS ran in this JVM").isEqualTo(alone);
    }

    @Test
    void anotherBlasLoadedFirstIsRefusedNotSilentlyUsed() throws Exception {
        assertThat(Files.exists(REFERENCE_BLAS)).as("%s (package libblas3)", REFERENCE_BLAS).isTrue();
        List<String> out = probe(List.of("-Ddev.ludovic.netlib.blas.nativeLibPath=" + REFERENCE_BLAS), "netlib",
                "kernel");
        assertThat(out.get(0)).startsWith("netlib JNIBLAS");
        assertThat(out.get(1)).startsWith("refused another BLAS library, ")
                .contains("libblas.so.3").contains("was loaded into this JVM before OpenBLAS");
    }

    private static List<String> probe(List<String> jvmOptions, String... steps) throws IOException,
            InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(BlasIsolationProbe.class.getName());
        cmd.addAll(List.of(steps));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String text = new String(out, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as("probe output: %s", text).isZero();
        List<String> lines = text.lines().toList();
        assertThat(lines).as("probe output").hasSize(steps.length);
        return lines;
    }
}
