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
 * {@link NativeMemory}: in a fresh JVM that makes a tensor first, or that first parses and initialises a model (whose
 * size check reads JavaCPP's limit before any tensor exists), JavaCPP's resident-size check is off
 * ({@code maxPhysicalBytes} 0: no system call per allocation); a value the user set, in either spelling JavaCPP
 * reads, stays. JavaCPP's maxBytes limit is untouched.
 */
class NativeMemoryTest {
    /** The child JVM's {@code Pointer.maxPhysicalBytes()} and {@code maxBytes()} after it made a tensor. */
    private static String childSees(String... properties) throws Exception {
        return childSees(Child.class, properties);
    }

    /** The JVM of {@code main}'s class: its output. */
    private static String childSees(Class<?> main, String... properties) throws Exception {
        Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "-Dorg.bytedeco.javacpp.maxBytes=64m"));
        cmd.addAll(List.of(properties));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
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

    @Test
    void theCheckIsOffWhenAModelIsInitialisedBeforeAnyTensor() throws Exception {
        // Model.init checks the parameters' size against JavaCPP's limit before it allocates them: reading
        // Pointer.maxBytes() there initialised JavaCPP before NativeMemory and left the check on for the JVM
        assertThat(childSees(ModelFirst.class)).contains("maxPhysicalBytes 0\n").contains("parameters 41\n");
        assertThat(childSees(ModelFirst.class, "-Dorg.bytedeco.javacpp.maxPhysicalBytes=1g"))
                .contains("maxPhysicalBytes " + (1L << 30) + "\n");
    }

    /** A child JVM that parses and initialises a model before anything else, as a program's first lines do. */
    static final class ModelFirst {
        public static void main(String[] args) {
            try (org.ntk4j.nn.Params p = org.ntk4j.nn.Zoo.parse("fcn(depth=1,width=8,out=1)").init(0, new int[] {3},
                    DType.F32)) {
                System.out.println("maxPhysicalBytes " + org.bytedeco.javacpp.Pointer.maxPhysicalBytes());
                System.out.println("parameters " + p.count());
            }
        }
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
