package org.ntk4j.cli;

import java.util.Locale;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.Standardizer;
import org.ntk4j.ntk.Method;
import org.ntk4j.predict.PredictRequest;
import org.ntk4j.predict.PredictResult;
import org.ntk4j.tensor.DType;

/**
 * The one writer of {@code --report} files: each command's JSON object made from its request and result records,
 * field names and order as they have always been. A command decides only where the report goes.
 */
final class Reports {
    private Reports() {
    }

    /**
     * {@code predict --report}: the closed form's settings, seconds and per-time figures; for the posterior and the
     * ODE, what was solved.
     */
    static JsonReport predict(PredictRequest q, PredictResult r, String train, String test, Standardizer.Mode mode,
                              DType dtype, double totalSeconds, long peakResidentBytes) {
        JsonReport json = new JsonReport().put("model", q.model().spec());
        if (r.solver() != PredictResult.Solver.CLOSED_FORM) {
            return json.put("n_train", r.trainExamples()).put("n_test", r.testExamples())
                    .put("posterior", q.posterior() == null ? "none" : q.posterior().shortName())
                    .put("loss", q.loss().shortName());
        }
        json.put("parameters", q.params().count()).put("train", train).put("test", test)
                .put("n_train", r.trainExamples()).put("n_test", r.testExamples()).put("outputs", r.outputs())
                .put("standardize", mode.name().toLowerCase(Locale.ROOT)).put("kind", q.kind().toString())
                .put("method", r.method().shortName()).put("auto", q.method() == Method.AUTO)
                .put("dtype", dtype.shortName()).put("diag_reg", q.diagReg())
                .put("diag_reg_absolute", q.diagRegAbsolute()).put("learning_rate", q.learningRate())
                .put("f0", q.initOutputs() ? "init" : "zero").put("train_kernel_seconds", r.trainKernelSeconds())
                .put("test_kernel_seconds", r.testKernelSeconds()).put("regression_seconds", r.regressionSeconds())
                .put("total_seconds", totalSeconds).put("peak_resident_bytes", peakResidentBytes);
        for (PredictResult.TimePoint t : r.points()) {
            String key = "t_" + PredictCommand.timeText(t.t());
            json.put(key + ".test_accuracy", t.testAccuracy()).put(key + ".test_mse", t.testLoss())
                    .put(key + ".train_accuracy", t.trainAccuracy()).put(key + ".train_mse", t.trainLoss());
        }
        return json;
    }
}
