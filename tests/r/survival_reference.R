# Reference values for tests/test_survival.py, from R's survival package.
# Run by hand from the repository root (not in CI):
#     Rscript tests/r/survival_reference.R
# Writes datasets and reference values to tests/data/r_survival/.
# Written with R survival 3.5-3; the version used is recorded in r_versions.csv.
suppressPackageStartupMessages(library(survival))
out <- "tests/data/r_survival"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
wcsv <- function(x, name) write.csv(x, file.path(out, name), row.names = FALSE)
wcsv(data.frame(r = R.version.string, survival = as.character(packageVersion("survival"))),
     "r_versions.csv")

# ---- datasets: columns time (days), event (0 censored, 1 relapse/death-of-interest, 2 competing), group
lung_df <- data.frame(time = survival::lung$time,
                      event = as.integer(survival::lung$status == 2),
                      group = factor(survival::lung$sex, 1:2, c("male", "female")))
veteran_df <- data.frame(time = survival::veteran$time,
                         event = as.integer(survival::veteran$status),
                         group = survival::veteran$celltype)  # squamous, smallcell, adeno, large

# synthetic cohort: integer days with heavy ties, 4 groups in a non-alphabetical order,
# deaths as a competing event, some relapses at day 0 (relapse during treatment, discharge origin)
set.seed(20240611)
n <- 2000
levels_of_care <- c("residential", "php", "iop", "op")
g <- factor(sample(levels_of_care, n, replace = TRUE, prob = c(0.2, 0.2, 0.35, 0.25)),
            levels = levels_of_care)
rate <- c(residential = 1 / 200, php = 1 / 260, iop = 1 / 300, op = 1 / 240)[as.character(g)]
t_relapse <- rexp(n, rate)
t_death <- rexp(n, 1 / 3000)
t_censor <- runif(n, 20, 730)
t_end <- pmin(t_relapse, t_death, t_censor)
ev <- ifelse(t_end == t_relapse, 1L, ifelse(t_end == t_death, 2L, 0L))
tm <- floor(t_end / 7) * 7          # weekly follow-up calls: heavy ties
day0 <- runif(n) < 0.03
tm[day0] <- 0; ev[day0] <- 1L
synthetic_df <- data.frame(time = tm, event = ev, group = g)

# tiny hand-checkable set: median exactly at 0.5 on a flat step (midpoint rule), curve reaching 0
tiny_df <- data.frame(time = c(1, 2, 3, 4, 2, 3, 5, 5, 6),
                      event = c(1, 1, 1, 1, 1, 0, 1, 1, 1),
                      group = factor(c("a", "a", "a", "a", "b", "b", "b", "b", "b"), c("a", "b")))

datasets <- list(lung = lung_df, veteran = veteran_df, synthetic = synthetic_df, tiny = tiny_df)
times <- list(lung = c(0, 90, 180, 365, 730, 1000, 2000),
              veteran = c(0, 30, 90, 180, 365, 1000),
              synthetic = c(0, 7, 30, 90, 180, 365, 700, 730, 800),
              tiny = c(0, 1, 2, 2.5, 5, 10))
taus <- list(lung = c(365, 1200), veteran = c(180, 1500), synthetic = c(365, 730), tiny = c(2.5, 10))

strata_names <- function(fit, df) {
  if (is.null(fit$strata)) return(rep("all", length(fit$time)))
  lev <- sub("^group=", "", names(fit$strata))
  rep(lev, fit$strata)
}

for (nm in names(datasets)) {
  df <- datasets[[nm]]
  wcsv(data.frame(time = df$time, event = df$event, group = as.character(df$group)), paste0(nm, ".csv"))
  # KM: a relapse is the event, a competing death (event 2) is censoring
  df$e1 <- as.integer(df$event == 1)
  fit <- survfit(Surv(time, e1) ~ group, data = df, conf.type = "log-log")
  s <- summary(fit, censored = TRUE)
  wcsv(data.frame(group = sub("^group=", "", as.character(s$strata)), time = s$time,
                  n_at_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
                  survival = s$surv, std_err = s$std.err, ci_lower = s$lower, ci_upper = s$upper),
       paste0(nm, "_km.csv"))
  # summary at fixed days, extend=TRUE; n.event/n.censor are per interval: cumulate per group
  st <- summary(fit, times = times[[nm]], extend = TRUE)
  sg <- sub("^group=", "", as.character(st$strata))
  wcsv(data.frame(group = sg, day = st$time, survival = st$surv, std_err = st$std.err,
                  ci_lower = st$lower, ci_upper = st$upper, n_at_risk = st$n.risk,
                  n_event = st$n.event, n_censor = st$n.censor,
                  n_event_cum = ave(st$n.event, sg, FUN = cumsum),
                  n_censor_cum = ave(st$n.censor, sg, FUN = cumsum)),
       paste0(nm, "_times.csv"))
  # median with its CI and restricted mean, as print(fit, rmean = tau)
  rows <- list()
  for (tau in taus[[nm]]) {
    tab <- summary(fit, rmean = tau)$table
    rows[[length(rows) + 1]] <- data.frame(group = sub("^group=", "", rownames(tab)), tau = tau,
      records = tab[, "records"], events = tab[, "events"], rmean = tab[, "rmean"],
      se_rmean = tab[, "se(rmean)"], median = tab[, "median"],
      median_lcl = tab[, "0.95LCL"], median_ucl = tab[, "0.95UCL"])
  }
  wcsv(do.call(rbind, rows), paste0(nm, "_table.csv"))
  # log-rank (survdiff, rho = 0)
  sd <- survdiff(Surv(time, e1) ~ group, data = df)
  wcsv(data.frame(group = sub("^group=", "", names(sd$n)), n = as.numeric(sd$n),
                  observed = sd$obs, expected = sd$exp), paste0(nm, "_logrank_groups.csv"))
  wcsv(data.frame(statistic = sd$chisq, df = length(sd$n) - 1,
                  p = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE)),
       paste0(nm, "_logrank.csv"))
  # pairwise survdiff per pair, Holm-adjusted
  lev <- levels(df$group)
  pr <- list()
  for (i in seq_along(lev)) for (j in seq_along(lev)) if (i < j) {
    sub_df <- df[df$group %in% c(lev[i], lev[j]), ]
    sub_df$group <- droplevels(sub_df$group)
    s2 <- survdiff(Surv(time, e1) ~ group, data = sub_df)
    pr[[length(pr) + 1]] <- data.frame(group_a = lev[i], group_b = lev[j], statistic = s2$chisq,
                                       p = pchisq(s2$chisq, 1, lower.tail = FALSE))
  }
  pr <- do.call(rbind, pr)
  pr$p_adjusted <- p.adjust(pr$p, method = "holm")
  wcsv(pr, paste0(nm, "_pairwise.csv"))
}

# Aalen-Johansen cumulative incidence with death (event 2) competing, default conf.type ("log")
df <- synthetic_df
aj <- survfit(Surv(time, factor(event, 0:2, c("censor", "relapse", "death"))) ~ group, data = df)
st <- aj$states
k1 <- which(st == "relapse"); k2 <- which(st == "death")
wcsv(data.frame(group = strata_names(aj, df), time = aj$time, n_at_risk = aj$n.risk[, 1],
                cif_relapse = aj$pstate[, k1], cif_death = aj$pstate[, k2],
                se_relapse = aj$std.err[, k1], se_death = aj$std.err[, k2],
                ci_lower = aj$lower[, k1], ci_upper = aj$upper[, k1],
                conf_type = aj$conf.type),
     "synthetic_aj.csv")
cat("wrote", length(list.files(out)), "files to", out, "\n")
