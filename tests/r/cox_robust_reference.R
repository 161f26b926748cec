# Reference values for the Cox additions of analysis/cox (tests/test_cox_robust.py): robust (sandwich)
# variance with and without a cluster, non-integer case weights, strata, frequency counts, and R's
# warnings for monotone likelihood. Run from the repository root:  Rscript tests/r/cox_robust_reference.R
# Reads tests/data/r_cox/lung.csv (written by cox_reference.R) and tests/data/r_compare/rossi.csv (lifelines'
# load_rossi, the Rossi et al. 1980 recidivism data, as in R's carData::Rossi); writes tests/data/r_cox_robust/.
# R 4.x, survival 3.5-3.
suppressPackageStartupMessages(library(survival))
out <- "tests/data/r_cox_robust"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

lung_d <- read.csv("tests/data/r_cox/lung.csv")
lung_d$ph.ecog <- factor(lung_d$ph.ecog)
lung_d$sex <- relevel(factor(lung_d$sex), "male")
set.seed(20260301)
lung_d$rw <- round(runif(nrow(lung_d), 0.2, 4), 6)                   # non-integer weights
lung_d$inst <- sample(1:12, nrow(lung_d), replace = TRUE)             # a cluster id
lung_d$strat <- ifelse(lung_d$age >= 63, "older", "younger")
write.csv(lung_d, file.path(out, "lung_extra.csv"), row.names = FALSE)

rossi <- read.csv("tests/data/r_compare/rossi.csv")
rossi$fin <- factor(rossi$fin)
# a monotone likelihood: one level of a factor with no events
# (level "none" has no events: its coefficient runs to minus infinity)
mono <- data.frame(time = c(5, 8, 12, 3, 9, 14, 20, 6, 11, 2, 16, 18), event = c(1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0),
                   x = c(1.2, 0.4, 2.2, 0.1, 1.9, 0.8, 1.5, 0.3, 2.5, 1.1, 0.6, 1.7))
mono$lvl <- factor(ifelse(mono$time > 10 & mono$event == 0, "none", "some"), levels = c("some", "none"))
write.csv(mono, file.path(out, "mono.csv"), row.names = FALSE)

fits <- list(
  lung_robust = coxph(Surv(time, event) ~ ph.ecog + sex + age, data = lung_d, robust = TRUE),
  lung_weighted_robust = coxph(Surv(time, event) ~ ph.ecog + sex + age, data = lung_d, weights = rw, robust = TRUE),
  lung_cluster = coxph(Surv(time, event) ~ ph.ecog + sex + age, data = lung_d, weights = rw, cluster = inst),
  lung_strata = coxph(Surv(time, event) ~ ph.ecog + sex + age + strata(strat), data = lung_d),
  rossi_robust = coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = rossi, robust = TRUE),
  rossi_weighted = coxph(Surv(week, arrest) ~ fin, data = rossi, weights = 0.5 + prio / 4, robust = TRUE)
)
coef_rows <- list(); summ_rows <- list(); zph_rows <- list()
for (nm in names(fits)) {
  f <- fits[[nm]]
  s <- summary(f)$coefficients
  ci <- summary(f)$conf.int
  robust_se <- if ("robust se" %in% colnames(s)) s[, "robust se"] else s[, "se(coef)"]
  coef_rows[[nm]] <- data.frame(dataset = nm, rterm = rownames(s), coef = s[, "coef"], se_model = s[, "se(coef)"],
                                se = robust_se, hr = ci[, "exp(coef)"], lower = ci[, "lower .95"],
                                upper = ci[, "upper .95"], z = s[, "z"], p = s[, "Pr(>|z|)"])
  summ_rows[[nm]] <- data.frame(dataset = nm, n = f$n, n_events = f$nevent, loglik = f$loglik[2],
                                loglik_null = f$loglik[1], concordance = concordance(f)$concordance, iter = f$iter)
  z <- cox.zph(f)$table
  zph_rows[[nm]] <- data.frame(dataset = nm, rterm = rownames(z), chisq = z[, "chisq"], df = z[, "df"], p = z[, "p"])
}
write.csv(do.call(rbind, coef_rows), file.path(out, "coef.csv"), row.names = FALSE)
write.csv(do.call(rbind, summ_rows), file.path(out, "summary.csv"), row.names = FALSE)
write.csv(do.call(rbind, zph_rows), file.path(out, "zph.csv"), row.names = FALSE)

# R's warnings, word for word
warn <- function(expr) tryCatch({ expr; "" }, warning = function(w) conditionMessage(w))
write.csv(data.frame(
  case = c("mono_level", "lung_iter2"),
  warning = c(warn(coxph(Surv(time, event) ~ lvl + x, data = mono)),
              warn(coxph(Surv(time, event) ~ ph.ecog + sex + age, data = lung_d, iter.max = 2)))),
  file.path(out, "warnings.csv"), row.names = FALSE)
writeLines(c(paste("R", getRversion()), paste("survival", packageVersion("survival"))), file.path(out, "versions.txt"))
