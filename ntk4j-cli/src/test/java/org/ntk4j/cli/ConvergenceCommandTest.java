package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConvergenceCommandTest {
    @TempDir
    Path dir;

    @Test
    void printsTheTableAndExponentAndWritesTheReportAndPlot() throws Exception {
        Path json = dir.resolve("c.json");
        Path png = dir.resolve("c.png");
        String[] o = run(0, "convergence", "--model", "fcn(depth=1,out=2,act=erf)", "--widths", "32,512", "--seeds",
                "2", "--ensemble", "3", "--data", "synthetic:8,6", "--dtype", "f64", "--json", json.toString(),
                "--plot", png.toString());
        assertThat(o[0]).contains("| width | single eNTK | min | max | ensemble mean |").contains("wrote " + png);
        Matcher m = Pattern.compile("\\| 32 \\| ([0-9.e-]+) .*\\n\\| 512 \\| ([0-9.e-]+) ").matcher(o[0]);
        assertThat(m.find()).as(o[0]).isTrue();
        assertThat(Double.parseDouble(m.group(2))).isLessThan(Double.parseDouble(m.group(1)));
        String report = Files.readString(json, StandardCharsets.UTF_8);
        assertThat(report).contains("\"single_exponent\"").contains("\"width_512.ensemble_distance\"");
        assertThat(Files.size(png)).isGreaterThan(1000);
        Matcher e = Pattern.compile("single eNTK (-?[0-9.]+) \\(theory").matcher(o[0]);
        assertThat(e.find()).isTrue();
        assertThat(Double.parseDouble(e.group(1))).isNegative();
    }

    @Test
    void otherModelsAreRefusedBeforeAnyWork() {
        String[] o = run(2, "convergence", "--model", "cnn(depth=1)", "--widths", "8,16");
        assertThat(o[1].trim()).isEqualTo("ntk4j: --model: convergence compares against the analytic infinite-width "
                + "NTK, which ntk4j has for a zoo fcn with act=relu or act=erf only, not 'cnn'");
        String[] tanh = run(2, "convergence", "--model", "fcn(depth=1,act=tanh)", "--widths", "8,16");
        assertThat(tanh[1].trim()).isEqualTo("ntk4j: --model: convergence compares against the analytic "
                + "infinite-width NTK, which ntk4j has for a zoo fcn with act=relu or act=erf only, not act=tanh");
        String[] s = run(2, "convergence", "--seeds", "5", "--ensemble", "4");
        assertThat(s[1]).contains("need 1 <= --seeds <= --ensemble");
    }

    @Test
    void aWidthGivenTwiceIsRefusedAsStudyRefusesIt() {
        // 16,16 used to fit NaN exponents to a single width and exit 0
        Path json = dir.resolve("cv.json");
        String[] o = run(2, "convergence", "--data", "synthetic:6,5", "--ensemble", "2", "--seeds", "1", "--widths",
                "16,16", "--json", json.toString());
        assertThat(o[1].trim()).isEqualTo("ntk4j: --widths: width 16 is given twice");
        assertThat(o[0]).isEmpty();
        assertThat(json).doesNotExist();
        assertThat(run(2, "convergence", "--widths", "8,16,8")[1].trim())
                .isEqualTo("ntk4j: --widths: width 8 is given twice");
        assertThat(run(2, "convergence", "--widths", "8,0")[1].trim())
                .isEqualTo("ntk4j: --widths: expected positive widths, got 0");
    }

    /**
     * A model without a width (an ONNX file, a linearized fcn) was refused for having no width to vary, not for
     * having no analytic limit; inputs on which the limit is 0 (all zero, no biases) printed a table of NaN and
     * exited 0.
     */
    @Test
    void modelsWithoutALimitAndAZeroLimitAreRefusedBeforeAnyWork() throws Exception {
        Path model = OnnxFiles.linear(dir.resolve("linear.onnx"));
        String[] onnx = run(2, "convergence", "--model", model.toString(), "--widths", "8,16");
        assertThat(onnx[1].trim()).isEqualTo("ntk4j: --model: convergence compares against the analytic "
                + "infinite-width NTK, which ntk4j has for a zoo fcn with act=relu or act=erf only, not an imported "
                + "ONNX model");
        String[] linearized = run(2, "convergence", "--model", "linearized(fcn(depth=1))", "--widths", "8,16");
        assertThat(linearized[1].trim()).endsWith("act=relu or act=erf only, not 'linearized'");
        Path zeros = dir.resolve("zeros.csv");
        Files.writeString(zeros, "a,b,c\n0,0,0\n0,0,0\n0,0,0\n", StandardCharsets.UTF_8);
        Path json = dir.resolve("z.json");
        String[] zero = run(2, "convergence", "--model", "fcn(depth=1,b_std=0)", "--data", zeros.toString(),
                "--widths", "8,16", "--ensemble", "2", "--seeds", "1", "--json", json.toString());
        assertThat(zero[1].trim()).isEqualTo("ntk4j: convergence: the infinite-width NTK of fcn(depth=1,b_std=0,"
                + "width=8) is 0 on these inputs (all of them 0 and no biases, or w_std = b_std = 0): a distance "
                + "relative to it means nothing");
        assertThat(zero[0]).doesNotContain("NaN");
        assertThat(json).doesNotExist();
    }
}
