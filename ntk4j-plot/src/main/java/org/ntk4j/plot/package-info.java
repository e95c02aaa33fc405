/**
 * PNG charts (XChart, headless): spectra, kernel heat maps and log-log line charts.
 */
package org.ntk4j.plot;
