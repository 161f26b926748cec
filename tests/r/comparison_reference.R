# Reference values for analysis/comparison (tests/test_comparison_against_r.py): propensity scores,
# weighted Kaplan-Meier with robust (infinitesimal-jackknife) variance, differences at horizons and the
# RMST difference from R's own influence values, weighted Cox with a robust interval, covariate-adjusted
# Cox, cox.zph, and window hazard ratios by survSplit + coxph.
# Run from the repository root:  Rscript tests/r/comparison_reference.R     (R 4.x, survival 3.5-3)
# Cohorts: the bundled sample (iop vs residential from discharge, follow-up derived here from the raw CSV
# as tests/r/sample_reference.R does, robust variances clustered on client_id) and the Rossi et al. (1980)
# recidivism data (tests/data/r_compare/rossi.csv, from lifelines' load_rossi; fin = 1 vs 0, weeks).
suppressPackageStartupMessages(library(survival))
out <- "tests/data/r_compare"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

# ---- the sample, iop vs residential, from discharge -------------------------------------------------
d <- read.csv("sample_data/episodes.csv", stringsAsFactors = FALSE, na.strings = "")
dates <- c("admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date")
for (v in dates) d[[v]] <- as.numeric(as.Date(d[[v]]))
as_of <- max(unlist(lapply(dates, function(v) max(d[[v]], na.rm = TRUE))))
died_at_dis <- d$discharge_reason %in% "died" & is.na(d$death_date) & !is.na(d$discharge_date)
d$death_date[died_at_dis] <- d$discharge_date[died_at_dis]
in_tx <- is.na(d$discharge_date)
follow_end <- ifelse(in_tx, ifelse(is.na(d$last_contact_date), as_of, d$last_contact_date),
                     pmax(ifelse(is.na(d$last_contact_date), d$discharge_date, d$last_contact_date), d$discharge_date))
relapse_seen <- !is.na(d$relapse_date) & (is.na(d$death_date) | d$relapse_date <= d$death_date)
death_first <- !relapse_seen & !is.na(d$death_date)
end <- ifelse(relapse_seen, d$relapse_date, ifelse(death_first, d$death_date, follow_end))
t_dis <- end - d$discharge_date
early <- (relapse_seen & d$relapse_date <= d$discharge_date) | (death_first & d$death_date <= d$discharge_date)
t_dis[!in_tx & early] <- 0
keep <- !in_tx & d$level_of_care %in% c("iop", "residential")
most <- function(x) names(which.max(table(x)))
sample_d <- data.frame(id = d$episode_id[keep], cluster = d$client_id[keep], time = t_dis[keep],
                       relapse = as.integer(relapse_seen[keep]), a = as.integer(d$level_of_care[keep] == "iop"),
                       age = d$age[keep], sex = d$sex[keep], primary_substance = d$primary_substance[keep],
                       co_occurring = d$co_occurring[keep] == "yes", prior_treatments = d$prior_treatments[keep])
sample_d <- na.omit(sample_d)
sample_d$sex <- relevel(factor(sample_d$sex), ref = most(sample_d$sex))
sample_d$primary_substance <- relevel(factor(sample_d$primary_substance), ref = most(sample_d$primary_substance))

rossi <- read.csv(file.path(out, "rossi.csv"))
rossi_d <- data.frame(id = seq_len(nrow(rossi)), cluster = seq_len(nrow(rossi)), time = rossi$week,
                      relapse = rossi$arrest, a = rossi$fin, age = rossi$age, prio = rossi$prio,
                      race = rossi$race == 1, wexp = rossi$wexp == 1, mar = rossi$mar == 1, paro = rossi$paro == 1)

# ---- one comparison -------------------------------------------------------------------------------
compare <- function(name, x, covs, estimand, horizons, tau, cuts, clustered) {
  f <- reformulate(covs, response = "a")
  ps_fit <- glm(f, family = binomial, data = x)
  x$ps <- fitted(ps_fit)
  p_a <- mean(x$a)
  x$w <- if (estimand == "ate") ifelse(x$a == 1, p_a / x$ps, (1 - p_a) / (1 - x$ps)) else
    ifelse(x$a == 1, 1, x$ps / (1 - x$ps))
  x$g <- factor(ifelse(x$a == 1, "a", "b"), levels = c("a", "b"))
  n_a <- sum(x$a); n_b <- sum(1 - x$a)
  auc <- wilcox.test(x$ps[x$a == 1], x$ps[x$a == 0], exact = FALSE)$statistic / (n_a * n_b)
  write.csv(data.frame(id = x$id, ps = x$ps, w = x$w), file.path(out, paste0(name, "_ps.csv")), row.names = FALSE)
  s <- summary(ps_fit)$coefficients
  write.csv(data.frame(term = rownames(s), coef = s[, 1], se = s[, 2]), file.path(out, paste0(name, "_glm.csv")),
            row.names = FALSE)

  # weighted KM, robust IJ variance (clustered), log-log intervals; influence values per cluster
  km <- survfit(Surv(time, relapse) ~ g, data = x, weights = w, robust = TRUE, cluster = cluster,
                conf.type = "log-log", influence = TRUE)
  grp <- rep(c("a", "b"), km$strata)
  write.csv(data.frame(group = grp, time = km$time, surv = km$surv, std_err = km$std.err, lower = km$lower,
                       upper = km$upper, n_risk_weighted = km$n.risk),
            file.path(out, paste0(name, "_km.csv")), row.names = FALSE)
  stopifnot(!km$logse)  # std.err is the standard error of S itself for a robust KM
  # influence of each cluster on S at each time, per group; check it gives R's own std.err
  infl <- km$influence.surv
  clusters <- sort(unique(x$cluster))
  per_group <- list()
  for (k in 1:2) {
    ids <- sort(unique(x$cluster[x$g == c("a", "b")[k]]))
    m <- matrix(0, length(clusters), ncol(infl[[k]]))
    m[match(ids, clusters), ] <- infl[[k]]
    stopifnot(max(abs(sqrt(colSums(infl[[k]]^2)) - km$std.err[grp == c("a", "b")[k]])) < 1e-10)
    per_group[[k]] <- list(time = km$time[grp == c("a", "b")[k]], surv = km$surv[grp == c("a", "b")[k]], m = m)
  }
  at <- function(pg, h) { j <- findInterval(h, pg$time); list(s = if (j == 0) 1 else pg$surv[j],
                                                              u = if (j == 0) rep(0, nrow(pg$m)) else pg$m[, j]) }
  hz <- lapply(horizons, function(h) { A <- at(per_group[[1]], h); B <- at(per_group[[2]], h)
    data.frame(time = h, surv_a = A$s, surv_b = B$s, se_a = sqrt(sum(A$u^2)), se_b = sqrt(sum(B$u^2)),
               diff = A$s - B$s, se_diff = sqrt(sum((A$u - B$u)^2))) })
  write.csv(do.call(rbind, hz), file.path(out, paste0(name, "_horizons.csv")), row.names = FALSE)
  rmst <- function(pg) {   # area under the step curve to tau and each cluster's influence on it
    tt <- c(pg$time[pg$time < tau], tau); keep <- pg$time < tau
    width <- diff(c(tt))                           # interval [t_j, t_{j+1}) within [first time, tau]
    est <- min(pg$time[1], tau) + sum(width * pg$surv[keep])
    list(est = est, u = pg$m[, keep, drop = FALSE] %*% width)
  }
  RA <- rmst(per_group[[1]]); RB <- rmst(per_group[[2]])
  pr <- summary(km, rmean = tau)$table
  write.csv(data.frame(tau = tau, rmst_a = RA$est, rmst_b = RB$est, se_a = sqrt(sum(RA$u^2)), se_b = sqrt(sum(RB$u^2)),
                       diff = RA$est - RB$est, se_diff = sqrt(sum((RA$u - RB$u)^2)),
                       r_rmean_a = pr[1, "rmean"], r_rmean_b = pr[2, "rmean"]),
            file.path(out, paste0(name, "_rmst.csv")), row.names = FALSE)

  # Cox: weighted with robust interval (clustered), covariate-adjusted; cox.zph of the group term
  wc <- if (clustered) coxph(Surv(time, relapse) ~ a, data = x, weights = w, cluster = cluster) else
    coxph(Surv(time, relapse) ~ a, data = x, weights = w, robust = TRUE)
  ac <- coxph(update(reformulate(covs, response = "Surv(time, relapse)"), . ~ a + .), data = x)
  row <- function(fit, model) { s <- summary(fit); cf <- s$coefficients["a", ]; ci <- s$conf.int["a", ]
    data.frame(model = model, coef = cf[["coef"]], se = if ("robust se" %in% names(cf)) cf[["robust se"]] else cf[["se(coef)"]],
               hr = ci[["exp(coef)"]], lower = ci[["lower .95"]], upper = ci[["upper .95"]], p = cf[["Pr(>|z|)"]],
               zph_p = cox.zph(fit)$table["a", "p"]) }
  write.csv(rbind(row(wc, "weighted"), row(ac, "covariate-adjusted")), file.path(out, paste0(name, "_cox.csv")),
            row.names = FALSE)

  # windows: survSplit at the limits, a group effect per window + common covariates (+ strata(window)).
  # Times are shifted by +1 (limits too) because coxph needs tstop > tstart and relapses at time 0 exist;
  # a Cox fit depends on times only through their order, so the shift changes nothing else.
  xs <- x; xs$t1 <- xs$time + 1
  inner <- cuts[-c(1, length(cuts))] + 1
  sp <- survSplit(Surv(t1, relapse) ~ ., data = xs, cut = c(inner, max(cuts) + 1), episode = "window")
  sp <- subset(sp, window <= length(cuts) - 1)
  wn <- paste0("a_w", seq_len(length(cuts) - 1))
  for (k in seq_along(wn)) sp[[wn[k]]] <- sp$a * (sp$window == k)
  wf <- coxph(as.formula(paste("Surv(tstart, t1, relapse) ~", paste(c(wn, covs), collapse = " + "), "+ strata(window)")),
              data = sp)
  s <- summary(wf)
  write.csv(data.frame(window = seq_along(wn), from = cuts[-length(cuts)], to = cuts[-1], coef = s$coefficients[wn, "coef"],
                       hr = s$conf.int[wn, "exp(coef)"], lower = s$conf.int[wn, "lower .95"],
                       upper = s$conf.int[wn, "upper .95"], p = s$coefficients[wn, "Pr(>|z|)"]),
            file.path(out, paste0(name, "_windows.csv")), row.names = FALSE)
  write.csv(data.frame(n_a = n_a, n_b = n_b, c_statistic = unname(auc), p_a = p_a, n_clusters = length(clusters)),
            file.path(out, paste0(name, "_summary.csv")), row.names = FALSE)
}

sample_covs <- c("age", "sex", "primary_substance", "co_occurring", "prior_treatments")
compare("sample_ate", sample_d, sample_covs, "ate", c(30, 90, 180, 365), 365, c(0, 30, 90, 365), TRUE)
rossi_covs <- c("age", "prio", "race", "wexp", "mar", "paro")
compare("rossi_ate", rossi_d, rossi_covs, "ate", c(4, 13, 26, 52), 52, c(0, 13, 26, 52), FALSE)
compare("rossi_att", rossi_d, rossi_covs, "att", c(4, 13, 26, 52), 52, c(0, 13, 26, 52), FALSE)
writeLines(c(paste("R", getRversion()), paste("survival", packageVersion("survival"))), file.path(out, "versions.txt"))
