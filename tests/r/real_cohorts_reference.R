# Reference values for tests/test_real_cohorts.py: real public cohorts in their own column names and units.
# Run from the repository root, after python tests/r/real_cohorts_export.py:
#   Rscript tests/r/real_cohorts_reference.R
# Writes R survival's results to tests/data/r_real/<cohort>_{km,summary,logrank,cox,zph}.csv on the times as
# they are in the file (rossi in weeks, uis and aids in days): survfit(conf.type = "log-log") with
# summary(times =, extend = TRUE) and summary(fit, rmean = tau)$table, survdiff, coxph(ties = "efron"),
# concordance and cox.zph (transform "km"). Model terms are written in Continuum's naming
# (factor levels as var[level]; a 0/1 covariate as var[True]). R 4.2, survival 3.5-3.
suppressPackageStartupMessages(library(survival))
src <- "tests/data/real_cohorts"
out <- "tests/data/r_real"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

most_frequent <- function(x) names(which.max(table(x)))

run <- function(name, d, time, status, group, numeric = character(), factors = list(), binary = character(),
                horizons, tau) {
  d$.time <- d[[time]]
  d$.status <- as.integer(d[[status]])
  d[[group]] <- factor(d[[group]])
  for (v in names(factors)) d[[v]] <- relevel(factor(d[[v]]), ref = factors[[v]])
  fit <- survfit(Surv(.time, .status) ~ d[[group]], data = d, conf.type = "log-log")
  s <- summary(fit, times = horizons, extend = TRUE)
  strata <- sub("^.*=", "", as.character(s$strata))
  write.csv(data.frame(group = strata, time = s$time, n_risk = s$n.risk, surv = s$surv, lower = s$lower,
                       upper = s$upper), file.path(out, paste0(name, "_km.csv")), row.names = FALSE)
  tab <- summary(fit, rmean = tau)$table
  write.csv(data.frame(group = sub("^.*=", "", rownames(tab)), n = tab[, "n.start"], events = tab[, "events"],
                       median = tab[, "median"], median_lower = tab[, "0.95LCL"], median_upper = tab[, "0.95UCL"],
                       rmean = tab[, "rmean"], rmean_se = tab[, "se(rmean)"]),
            file.path(out, paste0(name, "_summary.csv")), row.names = FALSE)
  sd <- survdiff(Surv(.time, .status) ~ d[[group]], data = d)
  vars <- c(group, numeric, binary, names(factors))
  cx <- coxph(as.formula(paste("Surv(.time, .status) ~", paste(vars, collapse = " + "))), data = d,
              ties = "efron")
  cs <- summary(cx)$coefficients
  ci <- summary(cx)$conf.int
  term <- rownames(cs)
  ours <- term
  for (v in c(group, names(factors))) for (l in levels(d[[v]])) ours[term == paste0(v, l)] <- paste0(v, "[", l, "]")
  for (v in binary) ours[term == v] <- paste0(v, "[True]")
  write.csv(data.frame(term = ours, coef = cs[, "coef"], se = cs[, "se(coef)"], hr = ci[, "exp(coef)"],
                       lower = ci[, "lower .95"], upper = ci[, "upper .95"], p = cs[, "Pr(>|z|)"]),
            file.path(out, paste0(name, "_cox.csv")), row.names = FALSE)
  z <- cox.zph(cx)$table
  write.csv(data.frame(term = rownames(z), chisq = z[, "chisq"], df = z[, "df"], p = z[, "p"]),
            file.path(out, paste0(name, "_zph.csv")), row.names = FALSE)
  write.csv(data.frame(chisq = sd$chisq, df = length(sd$n) - 1,
                       p = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE),
                       concordance = concordance(cx)$concordance, n = cx$n, events = cx$nevent),
            file.path(out, paste0(name, "_logrank.csv")), row.names = FALSE)
}

rossi <- read.csv(file.path(src, "rossi.csv"))
run("rossi", rossi, "week", "arrest", "fin", numeric = c("age", "prio"),
    factors = list(race = most_frequent(rossi$race)), binary = "wexp", horizons = c(4, 13, 26, 52), tau = 52)

uis <- read.csv(file.path(src, "uis.csv"), na.strings = "")
run("uis", uis, "TIME", "CENSOR", "TREAT", numeric = c("AGE", "BECK", "NDRUGTX"),
    factors = list(SITE = most_frequent(uis$SITE), IVHX = most_frequent(uis$IVHX), RACE = most_frequent(uis$RACE)),
    horizons = c(30, 90, 180, 365), tau = 365)

aids <- read.csv(file.path(src, "aids.csv"))
aids$censor <- aids$censor == "True"
run("aids", aids, "time", "censor", "tx", numeric = c("age", "cd4", "karnof", "ivdrug"),
    factors = list(sex = most_frequent(aids$sex)), horizons = c(30, 90, 180, 365), tau = 365)

whas <- read.csv(file.path(src, "whas500.csv"))
whas$fstat <- whas$fstat == "True"
run("whas500", whas, "lenfol", "fstat", "gender", numeric = c("age", "bmi", "hr", "sysbp"),
    binary = c("chf", "afb"), horizons = c(30, 90, 180, 365), tau = 365)

writeLines(c(paste("R", getRversion()), paste("survival", packageVersion("survival"))),
           file.path(out, "versions.txt"))
