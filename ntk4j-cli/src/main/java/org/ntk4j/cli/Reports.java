package org.ntk4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import org.ntk4j.infinite.Convergence;
import org.ntk4j.infinite.LimitKernel;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.Standardizer;
import org.ntk4j.io.TiledKernelRun;
import org.ntk4j.ntk.ApproximationReport;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.PntkWidthStudy;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.predict.KernelSpectrum;
import org.ntk4j.predict.PredictRequest;
import org.ntk4j.predict.PredictResult;
import org.ntk4j.study.TrainingStudy;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.train.EpochMetrics;

/**
 * The one writer of {@code --report} files: each command's JSON object made from its request and result records,
 * field names and order as they have always been. A command decides only where the report goes.
 */
final class Reports {
    private Reports() {
    }

    /**
     * The "method" of a report whose kernel is the NNGP (kernel --nngp, predict --posterior nngp): forward passes
     * and one contraction of the outputs, no NTK method (before 2026-12-07 the reports said "jc").
     */
    static final String NNGP = "nngp";

    /**
     * {@code predict --report}: for every solver the model, data, kind, method used, dtype, max learning rate,
     * seconds and peak memory; then the closed form's settings, seconds and per-time figures; the posterior's
     * settings, mean variance, test accuracy and MSE (per time, {@code t_T.}, with finite times: the ensemble);
     * or the ODE's settings and per-time accuracies and losses.
     */
    static JsonReport predict(PredictRequest q, PredictResult r, String train, String test, Standardizer.Mode mode,
                              DType dtype, double totalSeconds, long peakResidentBytes) {
        // "parameters": null with --infinite, which draws none
        JsonReport json = new JsonReport().put("model", q.model().spec())
                .put("parameters", q.params() == null ? null : q.params().count())
                .put("train", train).put("test", test).put("n_train", r.trainExamples())
                .put("n_test", r.testExamples()).put("outputs", r.outputs())
                .put("standardize", mode.name().toLowerCase(Locale.ROOT)).put("kind", q.kind().toString())
                .put("method", q.infinite() ? "infinite" : q.posterior()
                        == org.ntk4j.predict.GpInference.Posterior.NNGP ? NNGP : r.method().shortName())
                .put("infinite", q.infinite()).put("auto", q.method() == Method.AUTO)
                .put("dtype", dtype.shortName()).put("max_learning_rate", r.maxLearningRate())
                .put("total_seconds", totalSeconds).put("peak_resident_bytes", peakResidentBytes);
        if (r.solver() == PredictResult.Solver.POSTERIOR) {
            json.put("posterior", q.posterior().shortName()).put("loss", q.loss().shortName())
                    .put("diag_reg", q.diagReg().value()).put("diag_reg_absolute", q.diagReg().isAbsolute());
            if (!q.ensemble()) {
                PredictResult.TimePoint t = r.points().get(0);
                return json.put("mean_variance", r.meanVariance()).put("test_accuracy", t.testAccuracy())
                        .put("test_mse", t.testLoss());
            }
            // the trained ensemble: the posterior's figures per time, under the closed form's t_T. prefix
            json.put("learning_rate", q.learningRate());
            for (PredictResult.TimePoint t : r.points()) {
                String key = "t_" + PredictCommand.timeText(t.t());
                json.put(key + ".mean_variance", t.meanVariance()).put(key + ".test_accuracy", t.testAccuracy())
                        .put(key + ".test_mse", t.testLoss());
            }
            return json;
        }
        if (r.solver() == PredictResult.Solver.ODE) {
            // losses in neural-tangents' convention (MSE 1/(2|y|)‖f − y‖², as printed)
            json.put("posterior", "none").put("loss", q.loss().shortName()).put("momentum", q.momentum())
                    .put("diag_reg", q.diagReg().value()).put("diag_reg_absolute", q.diagReg().isAbsolute())
                    .put("learning_rate", q.learningRate()).put("f0", q.initOutputs() ? "init" : "zero")
                    .put("evaluations", r.evaluations());
            for (PredictResult.TimePoint t : r.points()) {
                String key = "t_" + PredictCommand.timeText(t.t());
                json.put(key + ".test_accuracy", t.testAccuracy()).put(key + ".test_loss", t.testLoss())
                        .put(key + ".train_accuracy", t.trainAccuracy()).put(key + ".train_loss", t.trainLoss());
            }
            return json;
        }
        json.put("diag_reg", q.diagReg().value()).put("diag_reg_absolute", q.diagReg().isAbsolute())
                .put("learning_rate", q.learningRate()).put("f0", q.initOutputs() ? "init" : "zero")
                .put("train_kernel_seconds", r.trainKernelSeconds()).put("test_kernel_seconds", r.testKernelSeconds())
                .put("regression_seconds", r.regressionSeconds());
        for (PredictResult.TimePoint t : r.points()) {
            String key = "t_" + PredictCommand.timeText(t.t());
            json.put(key + ".test_accuracy", t.testAccuracy()).put(key + ".test_mse", t.testLoss())
                    .put(key + ".train_accuracy", t.trainAccuracy()).put(key + ".train_mse", t.trainLoss());
        }
        return json;
    }

    /** {@code kernel --report} for a kernel computed in memory. */
    static JsonReport kernel(org.ntk4j.ntk.KernelJob.Request q, org.ntk4j.ntk.KernelJob.Result r, int[][] axes,
                             long budget) {
        double flops = q.members() * r.estimate().flops();
        Tensor x1 = q.x1();
        return new JsonReport().put("ensemble", q.members()).put("nngp", q.nngp()).put("model", q.model().spec())
                .put("kind", q.axes() != null ? "axes" : q.kind().toString())
                .put("method", q.nngp() ? NNGP : r.method().shortName())
                .put("auto", q.method() == Method.AUTO).put("dtype", x1.dtype().shortName())
                .put("x1_shape", x1.shape()).put("x2_shape", q.x2() == null ? x1.shape() : q.x2().shape())
                .put("x2_is_x1", q.x2() == null).put("trace_axes", axes[0]).put("diagonal_axes", axes[1])
                .put("kernel_shape", r.kernel().shape()).put("parameters", q.params().count())
                .put("seconds", r.seconds()).put("predicted_flops", exact(flops))
                .put("flops_counted", r.flopsCounted())
                .put("achieved_flops_per_second", flops / r.seconds()).put("peak_bytes", r.peakBytes())
                .put("predicted_peak_bytes", r.estimate().peakBytes()).put("memory_budget_bytes", budget);
    }

    /** A FLOP count as a whole number in the report (exact, to compare with flops_counted), ∞ as it is. */
    private static Object exact(double flops) {
        return Double.isFinite(flops) && flops < 9e18 ? (Object) Math.round(flops) : flops;
    }

    /** {@code kernel --infinite --report}: the analytic kernel. */
    static JsonReport limit(String model, LimitKernel which, KernelKind kind, DType dtype, Tensor x1, Tensor x2,
                            Tensor kernel, double seconds) {
        // the report's "nngp" stays a boolean, as --nngp is a flag
        return new JsonReport().put("model", model).put("infinite", true).put("nngp", which == LimitKernel.NNGP)
                .put("kind", kind.toString()).put("dtype", dtype.shortName()).put("x1_shape", x1.shape())
                .put("x2_shape", x2 == null ? x1.shape() : x2.shape()).put("x2_is_x1", x2 == null)
                .put("kernel_shape", kernel.shape()).put("seconds", seconds);
    }

    /** {@code kernel --out --report}: a tiled run. */
    static JsonReport tiled(TiledKernelRun.Result r) {
        TiledKernelRun.Request q = r.request();
        TilePlan plan = r.plan();
        Tensor x1 = q.x1();
        return new JsonReport().put("model", q.model().spec()).put("kind", q.kind().toString())
                .put("ensemble", q.ensemble() == 0 ? 1 : q.ensemble()).put("method", plan.method().shortName())
                .put("auto", q.method() == Method.AUTO).put("dtype", plan.dtype().shortName())
                .put("x1_shape", x1.shape()).put("x2_shape", q.x2() == null ? x1.shape() : q.x2().shape())
                .put("x2_is_x1", q.x2() == null).put("kernel_shape", plan.shape())
                .put("parameters", q.params().count()).put("seconds", r.seconds())
                .put("predicted_flops", exact(r.flops()))
                .put("flops_counted", r.flopsCounted())
                .put("achieved_flops_per_second", r.flops() / r.seconds()).put("peak_bytes", r.peakBytes())
                .put("predicted_peak_bytes", plan.predictedPeakBytes())
                .put("prepared_cache_bytes", r.preparedCacheBytes()).put("memory_budget_bytes", q.memoryBudget())
                .put("tiles", plan.tileCount()).put("tiles_computed", r.computed())
                .put("tiles_resumed", r.resumed()).put("tile_rows", plan.rowTile())
                .put("tile_columns", plan.columnTile()).put("workers", plan.workers()).put("out", q.out().toString());
    }

    /**
     * {@code spectrum --report}: the figures of the eigenvalues, written exact (shortest round-trip decimal) as
     * {@code approx --report}'s are, so that they can be checked against a NumPy recomputation from the kernel to
     * round-off (λ_min of an ill-conditioned kernel, and the condition number, lose their meaning at 6 digits); the
     * console keeps its 6, and the time, which moves from run to run, is written to 6.
     */
    static JsonReport spectrum(String kernel, KernelSpectrum sp, boolean fullLayout, double asymmetry,
                               double seconds, DType precision, boolean singular) {
        return new JsonReport().put("kernel", kernel).put("dimension", sp.dimension()).put("full_layout", fullLayout)
                .put("precision", precision.shortName())
                .putExact("trace", sp.trace()).putExact("lambda_max", sp.lambdaMax())
                .putExact("lambda_min", sp.lambdaMin()).putExact("condition_number", sp.conditionNumber())
                .put("singular_to_working_precision", singular)
                .putExact("effective_rank", sp.effectiveRank()).putExact("participation_ratio", sp.participationRatio())
                .put("non_positive_eigenvalues", sp.nonPositiveCount()).putExact("relative_asymmetry", asymmetry)
                .put("eigen_seconds", seconds);
    }

    /**
     * The settings {@code approx} reports with its figures; {@code seed} (the parameters', the data's shuffle, the
     * seeded targets' and the projecting kinds') with the width study's settings too.
     */
    record ApproxSettings(String model, String data, int n, DType dtype, long seed) {
    }

    /**
     * {@code approx --report}: each N×N kind against the full eNTK. The figures measured on the kernels are written
     * exact (shortest round-trip decimal), so that they can be checked against a NumPy recomputation from the
     * kernels to round-off, not to the 6 digits of {@link JsonReport#put}; the time and memory ratios, which move
     * from run to run, to 6. {@code full.singular_to_working_precision} tells the two meanings of a null
     * {@code condition_number_ratio} apart: NaN when the full kernel is singular (every row's λ_min and condition
     * ratios), +∞ when only that kind's K is (whose {@code lambda_min_ratio} is then 0: its λ_min, round-off, is
     * taken as 0). With {@code --labels}, each kind's {@code test_accuracy} and {@code test_accuracy_difference} (the
     * kind's less the full kernel's) and {@code full.test_accuracy}, exact. {@code diag_reg}, exact, and
     * {@code "diag_reg_absolute": true} when it is absolute (as {@code study}'s report): the regulariser every
     * regression here was solved with, which the prediction and accuracy figures depend on.
     */
    static JsonReport approx(ApproxSettings s, DiagReg diagReg, ApproximationReport r) {
        JsonReport json = approxHead(s).putExact("diag_reg", diagReg.value());
        if (diagReg.isAbsolute()) { // absent: relative, the only kind before --diag-reg-absolute
            json.put("diag_reg_absolute", true);
        }
        json.put("full.singular_to_working_precision", r.fullSingular());
        for (ApproximationReport.Row row : r.rows()) {
            String k = row.kind.replace(':', '_').replace('-', '_');
            json.putExact(k + ".relative_frobenius_error", row.relativeFrobeniusError)
                    .putExact(k + ".lambda_max_relative_error", row.lambdaMaxRelativeError)
                    .putExact(k + ".lambda_min_ratio", row.lambdaMinRatio)
                    .putExact(k + ".condition_number_ratio", row.conditionNumberRatio)
                    .putExact(k + ".prediction_relative_difference", row.predictionRelativeDifference)
                    .putExact(k + ".argmax_agreement", row.argmaxAgreement)
                    .put(k + ".time_ratio", row.timeRatio).put(k + ".memory_ratio", row.memoryRatio);
            if (!Double.isNaN(r.fullTestAccuracy())) { // approx --labels
                json.putExact(k + ".test_accuracy", row.testAccuracy)
                        .putExact(k + ".test_accuracy_difference", r.testAccuracyDifference(row));
            }
        }
        if (!Double.isNaN(r.fullTestAccuracy())) {
            json.putExact("full.test_accuracy", r.fullTestAccuracy());
        }
        return json.put("full.seconds", r.fullSeconds()).put("full.peak_bytes", r.fullPeakBytes());
    }

    /**
     * The settings of {@code approx --widths} beyond {@link ApproxSettings}: each one that changes its figures, which
     * a resumed run must repeat ({@code dataFingerprint}: {@link org.ntk4j.io.RunFingerprint#ofData} of the
     * training inputs).
     */
    record ApproxWidthSettings(int[] widths, int seeds, String method, String dataFingerprint) {
    }

    /**
     * {@code approx --widths --report}: the pNTK's error against width at each width done (mean, min and max over
     * the seeds, exact: a resumed run reads them back) and, once every width is, the fitted exponent; then which
     * widths are done, and whether all are ({@link PartialReport}).
     *
     * @param rows the widths done, in the order of the settings' widths
     * @param r the whole result, or null while widths remain
     */
    static JsonReport approx(ApproxSettings s, ApproxWidthSettings ws, List<PntkWidthStudy.Row> rows,
                             PntkWidthStudy.Result r) {
        JsonReport json = approxHead(s);
        int[] done = new int[rows.size()];
        for (int i = 0; i < done.length; i++) {
            PntkWidthStudy.Row row = rows.get(i);
            done[i] = row.width();
            String k = "width_" + row.width() + ".pntk_relative_frobenius_error";
            json.putExact(k, row.meanError()).putExact(k + "_min", row.minError())
                    .putExact(k + "_max", row.maxError());
        }
        json.put("widths", ws.widths());
        if (r != null) {
            json.putExact("pntk_error_width_exponent", r.exponent());
        }
        return json.put("seeds", ws.seeds()).put("method", ws.method())
                .put("data_fingerprint", ws.dataFingerprint()).put("command", "approx").put("complete", r != null)
                .put("widths_done", done);
    }

    /**
     * The rows of the widths a partial {@code approx --widths} report has done.
     *
     * @throws IllegalArgumentException if a width listed as done lacks a figure
     */
    static List<PntkWidthStudy.Row> approxRows(JsonReport partial, Path file) {
        List<PntkWidthStudy.Row> rows = new java.util.ArrayList<>();
        for (int w : widthsDone(partial, file)) {
            String k = "width_" + w + ".pntk_relative_frobenius_error";
            rows.add(new PntkWidthStudy.Row(w, figure(partial, k, file), figure(partial, k + "_min", file),
                    figure(partial, k + "_max", file)));
        }
        return rows;
    }

    private static int[] widthsDone(JsonReport partial, Path file) {
        if (!(partial.get("widths_done") instanceof int[] done)) {
            throw new IllegalArgumentException("--resume: " + file + " has no list of the widths done");
        }
        return done;
    }

    private static JsonReport approxHead(ApproxSettings s) {
        return new JsonReport().put("model", s.model()).put("data", s.data()).put("n", s.n())
                .put("dtype", s.dtype().shortName()).put("seed", s.seed());
    }

    /**
     * The settings {@code convergence} reports with its figures: each one that changes them, which a resumed run
     * must repeat ({@code dataFingerprint}: {@link org.ntk4j.io.RunFingerprint#ofData} of the inputs).
     */
    record ConvergenceSettings(String model, String data, DType dtype, int seeds, int ensemble, long seed,
                               int[] widths, String method, String dataFingerprint) {
    }

    /**
     * {@code convergence --report}: the distance to the infinite-width NTK at each width done, exact (a resumed run
     * reads them back), and, once every width is, the fitted exponents; then which widths are done, and whether all
     * are ({@link PartialReport}).
     *
     * @param rows the widths done, in the order of the settings' widths
     * @param r the whole result, or null while widths remain
     */
    static JsonReport convergence(ConvergenceSettings s, List<Convergence.Row> rows, Convergence.Result r,
                                  double seconds) {
        JsonReport json = new JsonReport().put("model", s.model()).put("data", s.data())
                .put("dtype", s.dtype().shortName()).put("seeds", s.seeds()).put("ensemble", s.ensemble())
                .put("seed", s.seed()).put("widths", s.widths());
        int[] done = new int[rows.size()];
        for (int i = 0; i < done.length; i++) {
            Convergence.Row row = rows.get(i);
            done[i] = row.width();
            json.putExact("width_" + row.width() + ".single_distance", row.singleMean())
                    .putExact("width_" + row.width() + ".single_min", row.singleMin())
                    .putExact("width_" + row.width() + ".single_max", row.singleMax())
                    .putExact("width_" + row.width() + ".ensemble_distance", row.ensemble());
        }
        if (r != null) {
            json.putExact("single_exponent", r.singleExponent()).putExact("ensemble_exponent", r.ensembleExponent());
        }
        return json.put("seconds", seconds).put("method", s.method()).put("data_fingerprint", s.dataFingerprint())
                .put("command", "convergence").put("complete", r != null).put("widths_done", done);
    }

    /**
     * The rows of the widths a partial {@link #convergence} report has done.
     *
     * @throws IllegalArgumentException if a width listed as done lacks a figure
     */
    static List<Convergence.Row> convergenceRows(JsonReport partial, Path file) {
        List<Convergence.Row> rows = new java.util.ArrayList<>();
        for (int w : widthsDone(partial, file)) {
            String k = "width_" + w + ".";
            rows.add(new Convergence.Row(w, figure(partial, k + "single_distance", file),
                    figure(partial, k + "single_min", file), figure(partial, k + "single_max", file),
                    figure(partial, k + "ensemble_distance", file)));
        }
        return rows;
    }

    /** A number of a partial report, which must have it. */
    static double figure(JsonReport partial, String key, Path file) {
        if (!(partial.get(key) instanceof Number n)) {
            throw new IllegalArgumentException("--resume: " + file + " lists " + key.substring(0, key.indexOf('.'))
                    + " as done but has no number " + key);
        }
        return n.doubleValue();
    }

    /**
     * The settings {@code study} reports with its figures: each one that changes them, which a resumed run must
     * repeat (the checkpoints' contents: each point's fingerprint). {@code oneNetwork}: an ONNX model's study,
     * whose {@code widths} is the one key of its network and whose keys have no "width_W." ({@link #studyPrefix}).
     */
    record StudySettings(String model, String sample, int n, int nTest, DType dtype, DiagReg diagReg, int[] widths,
                         String method, long seed, String checkpoints, boolean oneNetwork) {
    }

    /** The prefix of a study's keys for a width: "width_W.", or "" for an ONNX model's one network. */
    static String studyPrefix(boolean oneNetwork, int width) {
        return oneNetwork ? "" : "width_" + width + ".";
    }

    /** One figure of the study through training: its file name and how to read it from a point. */
    record StudyMetric(String file, String title, ToDoubleFunction<TrainingStudy.Point> read) {
    }

    /**
     * {@code study --report}: every figure at every width and epoch measured where it exists (NaN: absent; the only
     * infinite one, a condition-number ratio against a singular kind, null), exact (a resumed run reads them
     * back); then which checkpoints are done, with the {@link org.ntk4j.io.RunFingerprint} of each (model,
     * parameters, sample), and whether all are ({@link PartialReport}). An ONNX model's study has no "widths" and
     * its keys no "width_W." ("epoch_E.kernel_velocity", "epochs_done").
     *
     * @param fingerprints the fingerprint of each point measured, by "width_W.epoch_E" ("epoch_E")
     */
    static JsonReport study(StudySettings s, TrainingStudy study, List<StudyMetric> metrics, double seconds,
                            boolean complete, java.util.Map<String, String> fingerprints) {
        int[] epochs = study.epochs();
        JsonReport json = new JsonReport().put("model", s.model()).put("sample", s.sample()).put("n", s.n())
                .put("n_test", s.nTest()).put("dtype", s.dtype().shortName())
                .putExact("diag_reg", s.diagReg().value());
        if (s.diagReg().isAbsolute()) { // absent: relative, as every report written before --diag-reg-absolute
            json.put("diag_reg_absolute", true);
        }
        if (!s.oneNetwork()) {
            json.put("widths", s.widths());
        }
        json.put("epochs", epochs).put("kinds", String.join(",", study.kindNames())).put("seconds", seconds);
        for (StudyMetric metric : metrics) {
            for (int e = 0; e < epochs.length; e++) {
                for (int w : s.widths()) {
                    double v = study.series(w, metric.read())[e];
                    if (!Double.isNaN(v)) {
                        json.putExact(studyPrefix(s.oneNetwork(), w) + "epoch_" + epochs[e] + "." + metric.file(),
                                v);
                    }
                }
            }
        }
        json.put("method", s.method()).put("seed", s.seed()).put("checkpoints", s.checkpoints())
                .put("command", "study").put("complete", complete);
        for (int w : s.widths()) {
            int[] done = study.points().stream().filter(p -> p.width() == w).mapToInt(TrainingStudy.Point::epoch)
                    .toArray();
            if (done.length > 0) {
                json.put(studyPrefix(s.oneNetwork(), w) + "epochs_done", done);
                for (int e : done) {
                    String part = studyPrefix(s.oneNetwork(), w) + "epoch_" + e;
                    json.put(part + ".fingerprint", fingerprints.get(part));
                }
            }
        }
        return json;
    }

    /**
     * A figure of a partial {@link #study} report, as it was before it was written: absent, NaN; null, +∞.
     */
    static double studyFigure(JsonReport partial, String key) {
        if (!partial.has(key)) {
            return Double.NaN;
        }
        return partial.get(key) instanceof Number n ? n.doubleValue() : Double.POSITIVE_INFINITY;
    }

    /** The settings {@code train} reports with its curves: as given on the command line, the optimizer described. */
    record TrainSettings(String model, String train, String test, String optimizer, double lr, String schedule,
                         String loss, int batch, int epochs, long seed, String dtype, String standardize,
                         String batchNorm) {
    }

    /**
     * {@code train --log}: the settings and each epoch's figures, the same keys at every epoch; a figure the epoch
     * has not (epoch 0's train loss and rate, the test figures under {@code --test none}) is null.
     */
    static JsonReport train(TrainSettings s, List<EpochMetrics> curves) {
        JsonReport json = new JsonReport().put("model", s.model()).put("train", s.train()).put("test", s.test())
                .put("optimizer", s.optimizer()).put("lr", s.lr()).put("schedule", s.schedule()).put("loss", s.loss())
                .put("batch", s.batch()).put("epochs", s.epochs()).put("seed", s.seed()).put("dtype", s.dtype())
                .put("standardize", s.standardize()).put("batch_norm", s.batchNorm());
        for (EpochMetrics m : curves) {
            String k = "epoch_" + m.epoch() + ".";
            json.put(k + "step", m.step()).put(k + "learning_rate", m.learningRate())
                    .put(k + "train_loss", m.trainLoss()).put(k + "test_loss", m.testLoss())
                    .put(k + "test_accuracy", m.testAccuracy()).put(k + "examples_per_second",
                            m.examplesPerSecond()).put(k + "seconds", m.seconds());
        }
        return json;
    }
}
