package org.ntk4j.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.plot.Charts;
import org.ntk4j.predict.KernelMatrix;
import org.ntk4j.predict.KernelSpectrum;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The eigenvalue spectrum of an NTK and two PNG charts: the spectrum on log-log axes and the kernel as a heat
 * map with the examples ordered by class — what {@code ntk4j spectrum --plots DIR} draws.
 *
 * <p>Run: {@code ntk4j-examples/run SpectrumAndPlot [N] [DIR] [--overwrite]} (defaults 300 and a temporary
 * directory). DIR is created if missing; an existing {@code spectrum.png} or {@code kernel.png} in it is refused
 * unless {@code --overwrite} is given.
 */
public final class SpectrumAndPlot {
    /** The command line (see {@link ExampleArgs}). */
    static final String USAGE = "SpectrumAndPlot [N] [DIR] [--overwrite]";

    private SpectrumAndPlot() {
    }

    /**
     * Computes the kernel and its spectrum, prints the summary numbers, writes the charts.
     *
     * @param args optional: number of examples, output directory, {@code --overwrite}
     * @throws Exception only on a bug: bad arguments and I/O errors end in one line on stderr and exit code 2
     */
    public static void main(String[] args) throws Exception {
        ExampleArgs.main(USAGE, args, SpectrumAndPlot::run);
    }

    static void run(ExampleArgs args) throws IOException {
        int n = args.positive(0, 300);
        Path dir = args.given(1) ? Path.of(args.text(1, null)) : Files.createTempDirectory("ntk4j-spectrum");
        Path spectrum = args.newFile(dir.resolve("spectrum.png"));   // files of yours only with --overwrite
        Path heatmap = args.newFile(dir.resolve("kernel.png"));
        Files.createDirectories(dir);

        Model model = Zoo.parse("fcn(depth=3,width=256,out=10,act=relu)");
        try (Dataset data = DataSource.loadDataset(DataSource.DEFAULT_TRAIN + ":" + n, DType.F64, 0);
             Params params = model.init(1, data.exampleShape(), DType.F64);
             Tensor k = EmpiricalNtk.of(model, params).ntk(data.x(), null);   // trace kernel [N, N]
             KernelMatrix m = KernelMatrix.of(k)) {
            // The spectrum: a symmetric eigendecomposition of a copy (KernelSpectrum.ofDestroying(m) saves the copy).
            KernelSpectrum s = KernelSpectrum.of(m);
            System.out.printf(Locale.ROOT, "kernel %d × %d: trace %.4g, λ_max %.4g, λ_min %.4g%n", s.dimension(),
                    s.dimension(), s.trace(), s.lambdaMax(), s.lambdaMin());
            System.out.printf(Locale.ROOT, "condition number %.4g, effective rank %.2f, participation ratio %.2f%n",
                    s.conditionNumber(), s.effectiveRank(), s.participationRatio());
            // λ_max dominates: the share of the trace in the largest eigenvalues (the rest decays as a power law).
            double[] ev = s.eigenvalues();   // ascending
            double top10 = 0;
            for (int i = 0; i < Math.min(10, ev.length); i++) {
                top10 += ev[ev.length - 1 - i];
            }
            System.out.printf(Locale.ROOT, "top 10 eigenvalues hold %.1f%% of the trace%n", 100 * top10 / s.trace());

            // Charts (XChart, headless): λ_i against i on log-log axes; the kernel with examples sorted by label,
            // drawn as at most 100 × 100 cells (block means), so that the class structure shows.
            Charts.spectrum(spectrum, "NTK spectrum, " + model.spec() + ", " + n + " images", ev);
            Charts.kernelHeatmap(heatmap, "NTK by class", k.toDoubleArray(), n, data.labels(), 100);
            System.out.println("wrote " + spectrum.getFileName() + " and " + heatmap.getFileName());
        }
    }
}
