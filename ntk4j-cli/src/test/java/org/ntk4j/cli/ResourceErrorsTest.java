package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.tensor.Tensor;

/**
 * What the planner cannot foresee still ends in one line: memory that runs out (data larger than the JVM may hold)
 * and a kernel that is not finite although its inputs and parameters are (the network overflows float32), which
 * is refused instead of written.
 */
class ResourceErrorsTest {
    @Test
    void dataLargerThanTheJvmMayHoldIsOneLineWithExitCodeThree(@TempDir Path dir) throws Exception {
        // 100,000 × 1,000 float32 examples (400 MB) in a JVM of 64 MiB: JavaCPP refuses the allocation
        Process p = TiledRunTest.start(dir, List.of("-Xmx64m"), "kernel", "--model", "fcn(depth=1,width=16,out=3)",
                "--data", "synthetic:100000,1000");
        assertThat(p.waitFor()).isEqualTo(3);
        List<String> log = Files.readAllLines(dir.resolve("child.log"), StandardCharsets.UTF_8);
        assertThat(log).hasSize(1);
        assertThat(log.get(0)).startsWith("ntk4j: out of memory: Cannot allocate new FloatPointer(100000000)")
                .contains("the JVM holds at most 64.0 MiB of tensors").contains("NTK4J_JAVA_OPTS=-Xmx<size>");
    }

    @Test
    void aKernelThatOverflowsIsRefusedAndNotWritten(@TempDir Path dir) throws IOException {
        // inputs of 1e20 are finite in float32, but their squares in the kernel are not
        Path data = dir.resolve("huge.npy");
        try (Tensor x = Tensor.full(org.ntk4j.tensor.DType.F32, 1e20, 4, 10)) {
            Npy.write(data, x);
        }
        String expected = "ntk4j: kernel: the result holds Infinity (at flat index 0 of [4, 4]) although the inputs "
                + "and parameters are finite: the network's outputs or their derivatives are not finite at these "
                + "inputs (an overflow of f32, such as exp of a large pre-activation, or an operation outside its "
                + "domain, such as the log of a negative number); compute in float64, or scale the inputs";
        String[] inMemory = CliRuns.run(2, "kernel", "--model", "fcn(depth=1,width=16,out=3)", "--data",
                data.toString());
        assertThat(inMemory[1].strip()).isEqualTo(expected);
        // a tiled run refuses the tile: no kernel file under the final name
        Path out = dir.resolve("K.npy");
        String[] tiled = CliRuns.run(2, "kernel", "--model", "fcn(depth=1,width=16,out=3)", "--data",
                data.toString(), "--out", out.toString(), "--quiet");
        assertThat(tiled[1].strip()).isEqualTo(expected);
        assertThat(out).doesNotExist();
        // nor an unfinished run: it could never finish, and the float64 run below needs no --overwrite
        assertThat(org.ntk4j.io.TileStore.partialPath(out)).doesNotExist();
        assertThat(org.ntk4j.io.TileStore.manifestPath(out)).doesNotExist();
        CliRuns.run(0, "kernel", "--model", "fcn(depth=1,width=16,out=3)", "--data", data.toString(), "--out",
                out.toString(), "--dtype", "f64", "--quiet");
        assertThat(out).exists();
        // the same data in float64 is a kernel (1e40 is finite there)
        String[] f64 = CliRuns.run(0, "kernel", "--model", "fcn(depth=1,width=16,out=3)", "--data",
                data.toString(), "--dtype", "f64");
        assertThat(f64[0]).contains("kernel [4, 4] mean ");
        // one that overflows float64 too is told to scale its inputs, not to compute in the float64 it ran in
        Path larger = dir.resolve("larger.npy");
        try (Tensor x = Tensor.full(org.ntk4j.tensor.DType.F64, 1e200, 4, 10)) {
            Npy.write(larger, x);
        }
        String[] f64Overflow = CliRuns.run(2, "kernel", "--model", "fcn(depth=1,width=16,out=3)", "--data",
                larger.toString(), "--dtype", "f64");
        assertThat(f64Overflow[1].strip()).startsWith("ntk4j: kernel: the result holds ")
                .contains("(an overflow of f64, such as exp of a large pre-activation, or an operation outside its "
                        + "domain").endsWith("number); scale the "
                        + "inputs");
    }
}
