//! faultline's reports: HTML pages and SVG plots of a run.
