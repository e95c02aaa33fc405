package org.ntk4j.bench;

/**
 * Least-squares line through (log x, log y): the exponent (slope) of a power law y ∝ x^slope, and R².
 *
 * @param slope fitted exponent
 * @param r2 coefficient of determination of the fit in log-log space
 */
record LogLogFit(double slope, double r2) {
    static LogLogFit of(double[] x, double[] y) {
        if (x.length != y.length || x.length < 2) {
            throw new IllegalArgumentException("a log-log fit needs at least two points of equal counts, got "
                    + x.length + " x and " + y.length + " y");
        }
        int n = x.length;
        double mx = 0;
        double my = 0;
        for (int i = 0; i < n; i++) {
            if (!(x[i] > 0) || !(y[i] > 0)) {
                throw new IllegalArgumentException("a log-log fit needs positive values, got x=" + x[i] + ", y="
                        + y[i]);
            }
            mx += Math.log(x[i]);
            my += Math.log(y[i]);
        }
        mx /= n;
        my /= n;
        double sxx = 0;
        double sxy = 0;
        double syy = 0;
        for (int i = 0; i < n; i++) {
            double dx = Math.log(x[i]) - mx;
            double dy = Math.log(y[i]) - my;
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        if (sxx == 0) {
            throw new IllegalArgumentException("a log-log fit needs at least two distinct x values");
        }
        return new LogLogFit(sxy / sxx, syy == 0 ? 1 : sxy * sxy / (sxx * syy));
    }
}
