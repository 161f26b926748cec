# End-to-end reference for the bundled sample cohort, computed in R from the raw CSV.
# Run by hand from the repository root:  Rscript tests/r/sample_reference.R
# The follow-up time is derived here independently of Continuum's Python code, from the conventions in
# analysis/cohort.py (end of follow-up = later of last contact and discharge; relapse is the event,
# death without prior relapse the competing event, censored for KM/log-rank/Cox; relapse on or before
# discharge = event at day 0 from discharge; episodes still in treatment have no discharge origin).
suppressPackageStartupMessages(library(survival))
out <- "tests/data/r_sample"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
d <- read.csv("sample_data/episodes.csv", stringsAsFactors = FALSE, na.strings = "")
dates <- c("admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date")
for (v in dates) d[[v]] <- as.numeric(as.Date(d[[v]]))  # days since 1970-01-01
as_of <- max(unlist(lapply(dates, function(v) max(d[[v]], na.rm = TRUE))))
died_at_dis <- d$discharge_reason %in% "died" & is.na(d$death_date) & !is.na(d$discharge_date)
d$death_date[died_at_dis] <- d$discharge_date[died_at_dis]
in_tx <- is.na(d$discharge_date)
follow_end <- ifelse(in_tx, ifelse(is.na(d$last_contact_date), as_of, d$last_contact_date),
                     pmax(ifelse(is.na(d$last_contact_date), d$discharge_date, d$last_contact_date), d$discharge_date))
relapse_seen <- !is.na(d$relapse_date) & (is.na(d$death_date) | d$relapse_date <= d$death_date)
death_first <- !relapse_seen & !is.na(d$death_date)
end <- ifelse(relapse_seen, d$relapse_date, ifelse(death_first, d$death_date, follow_end))
status <- ifelse(relapse_seen, 1L, ifelse(death_first, 2L, 0L))
t_dis <- end - d$discharge_date
early <- (relapse_seen & d$relapse_date <= d$discharge_date) | (death_first & d$death_date <= d$discharge_date)
t_dis[!in_tx & early] <- 0
t_adm <- end - d$admission_date
levels_ <- c("detox", "inpatient", "residential", "php", "iop", "op")

run <- function(time, status, keep, origin) {
  x <- data.frame(time = time[keep], relapse = as.integer(status[keep] == 1),
                  loc = factor(d$level_of_care[keep], levels = levels_),
                  age = d$age[keep], sex = factor(d$sex[keep]),
                  co = factor(d$co_occurring[keep], levels = c("no", "yes")))
  x$loc <- relevel(x$loc, ref = "residential")
  x$sex <- relevel(x$sex, ref = names(which.max(table(x$sex))))
  fit <- survfit(Surv(time, relapse) ~ loc, data = x, conf.type = "log-log")
  s <- summary(fit, times = c(30, 90, 180, 365), extend = TRUE)
  write.csv(data.frame(group = sub("loc=", "", as.character(s$strata)), day = s$time, n_risk = s$n.risk,
                       surv = s$surv, lower = s$lower, upper = s$upper),
            file.path(out, paste0("km_", origin, ".csv")), row.names = FALSE)
  tab <- summary(fit, rmean = 365)$table
  write.csv(data.frame(group = sub("loc=", "", rownames(tab)), n = tab[, "n.start"], events = tab[, "events"],
                       median = tab[, "median"], median_lower = tab[, "0.95LCL"], median_upper = tab[, "0.95UCL"],
                       rmean = tab[, "rmean"], rmean_se = tab[, "se(rmean)"]),
            file.path(out, paste0("summary_", origin, ".csv")), row.names = FALSE)
  sd <- survdiff(Surv(time, relapse) ~ loc, data = x)
  cx <- coxph(Surv(time, relapse) ~ loc + age + sex + co, data = x, ties = "efron")
  cs <- summary(cx)$coefficients
  ci <- summary(cx)$conf.int
  write.csv(data.frame(term = rownames(cs), coef = cs[, "coef"], se = cs[, "se(coef)"], hr = ci[, "exp(coef)"],
                       lower = ci[, "lower .95"], upper = ci[, "upper .95"], p = cs[, "Pr(>|z|)"]),
            file.path(out, paste0("cox_", origin, ".csv")), row.names = FALSE)
  z <- cox.zph(cx)$table
  write.csv(data.frame(term = rownames(z), chisq = z[, "chisq"], df = z[, "df"], p = z[, "p"]),
            file.path(out, paste0("zph_", origin, ".csv")), row.names = FALSE)
  write.csv(data.frame(chisq = sd$chisq, df = length(sd$n) - 1,
                       p = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE),
                       concordance = concordance(cx)$concordance),
            file.path(out, paste0("logrank_", origin, ".csv")), row.names = FALSE)
}
run(t_dis, status, !in_tx, "discharge")
run(t_adm, status, rep(TRUE, nrow(d)), "admission")
writeLines(c(paste("R", getRversion()), paste("survival", packageVersion("survival")),
             paste("as_of", format(as.Date(as_of, origin = "1970-01-01")))), file.path(out, "versions.txt"))
