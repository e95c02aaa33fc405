package org.ntk4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link NativeMemory}: in a fresh JVM that makes a tensor first, JavaCPP's resident-size check is off
 * ({@code maxPhysicalBytes} 0: no system call per allocation); a value the user set, in either spelling JavaCPP
 * reads, stays. JavaCPP's maxBytes limit is untouched.
 */
class NativeMemoryTest {
    /** The child JVM's {@code Pointer.maxPhysicalBytes()} and {@code maxBytes()} after it made a tensor. */
    private static String childSees(String... properties) throws Exception {
        Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "-Dorg.bytedeco.javacpp.maxBytes=64m"));
        cmd.addAll(List.of(properties));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Child.class.getName()));
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(proc.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(proc.exitValue()).as(out).isZero();
        return out;
    }

    @Test
    void theResidentSizeCheckIsOffUnlessTheUserSetsIt() throws Exception {
        assertThat(childSees()).contains("maxPhysicalBytes 0\n").contains("maxBytes " + (64L << 20) + "\n");
        assertThat(childSees("-Dorg.bytedeco.javacpp.maxPhysicalBytes=1g")).contains("maxPhysicalBytes "
                + (1L << 30) + "\n");
        assertThat(childSees("-Dorg.bytedeco.javacpp.maxphysicalbytes=2g")).contains("maxPhysicalBytes "
                + (2L << 30) + "\n");
    }

    /** The child JVM: a tensor first, as every ntk4j entry point makes, then JavaCPP's settings. */
    static final class Child {
        public static void main(String[] args) {
            try (Tensor t = Tensor.zeros(DType.F32, 4)) {
                System.out.println("maxPhysicalBytes " + org.bytedeco.javacpp.Pointer.maxPhysicalBytes());
                System.out.println("maxBytes " + org.bytedeco.javacpp.Pointer.maxBytes());
            }
        }
    }
}
