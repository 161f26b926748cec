# Reference values for analysis/cox.py (tests/test_cox.py).
# Run from the repository root:  Rscript tests/r/cox_reference.R
# Writes the datasets and R's coxph (Efron) / concordance / cox.zph results to tests/data/r_cox/.
# R 4.x, survival 3.5-3.
suppressPackageStartupMessages(library(survival))
out <- "tests/data/r_cox"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

# ---- datasets ---------------------------------------------------------------------------
lung_d <- na.omit(data.frame(time = lung$time, event = as.integer(lung$status == 2),
                             sex = ifelse(lung$sex == 1, "male", "female"),
                             age = lung$age, ph.ecog = lung$ph.ecog))
lung_d$w <- as.numeric(rep(1:3, length.out = nrow(lung_d)))         # integer case weights (weighted fit)
vet_d <- data.frame(time = veteran$time, event = veteran$status,
                    celltype = as.character(veteran$celltype),
                    trt = ifelse(veteran$trt == 1, "standard", "test"),
                    karno = veteran$karno, age = veteran$age)

# synthetic tied-days cohort: integer days (day 0 possible), relapse = 1, death = 2 (competing),
# 0 censored; level_of_care "op" has a non-proportional (Weibull shape 0.7) relapse hazard
set.seed(20261125)
n <- 3000
loc <- sample(c("residential", "detox", "php", "iop", "op"), n, TRUE, prob = c(.25, .1, .15, .3, .2))
sex <- sample(c("female", "male"), n, TRUE, prob = c(.4, .6))
sub <- sample(c("alcohol", "opioid", "stimulant", "cannabis"), n, TRUE, prob = c(.4, .3, .2, .1))
coo <- sample(c("no", "yes"), n, TRUE, prob = c(.55, .45))
lp <- c(residential = 0, detox = .4, php = .1, iop = .2, op = .35)[loc] +
  .5 * (sub == "opioid") + .3 * (sub == "stimulant") + .25 * (coo == "yes") + .1 * (sex == "male")
t_rel <- rexp(n, exp(lp) / 450)
t_rel[loc == "op"] <- rweibull(sum(loc == "op"), shape = 0.7, scale = 450)
t_death <- rexp(n, 1 / 4000)
t_cens <- runif(n, 20, 400)
tt <- pmin(t_rel, t_death, t_cens)
ev <- ifelse(tt == t_rel, 1L, ifelse(tt == t_death, 2L, 0L))
syn_d <- data.frame(days = floor(tt), event = ev, level_of_care = loc, sex = sex,
                    primary_substance = sub, co_occurring = coo)
syn_d$co_occurring[sample(n, 25)] <- NA                    # rows dropped as missing
write.csv(lung_d, file.path(out, "lung.csv"), row.names = FALSE)
write.csv(vet_d, file.path(out, "veteran.csv"), row.names = FALSE)
write.csv(syn_d, file.path(out, "synthetic_tied.csv"), row.names = FALSE, na = "")

# ---- fits ---------------------------------------------------------------------------------
fits <- list(
  lung = coxph(Surv(time, event) ~ factor(ph.ecog) + relevel(factor(sex), "male") + age,
               data = transform(lung_d, ph.ecog = ph.ecog), ties = "efron"),
  lung_weighted = coxph(Surv(time, event) ~ factor(ph.ecog) + relevel(factor(sex), "male") + age,
                        data = lung_d, weights = w, ties = "efron"),
  veteran = coxph(Surv(time, event) ~ factor(celltype, levels = c("squamous", "smallcell", "adeno", "large")) +
                    factor(trt) + karno + age, data = vet_d, ties = "efron"),
  synthetic_tied = coxph(Surv(days, event == 1) ~
                           factor(level_of_care, levels = c("residential", "detox", "php", "iop", "op")) +
                           relevel(factor(sex), "male") + relevel(factor(primary_substance), "alcohol") +
                           relevel(factor(co_occurring), "no"), data = syn_d, ties = "efron")
)
# the same rows stacked twice: every tied set doubles (Efron is not invariant to that)
fits$synthetic_doubled <- update(fits$synthetic_tied, data = rbind(syn_d, syn_d))
vars <- list(lung = c("ph.ecog", "sex", "age"), lung_weighted = c("ph.ecog", "sex", "age"),
             veteran = c("celltype", "trt", "karno", "age"),
             synthetic_tied = c("level_of_care", "sex", "primary_substance", "co_occurring"),
             synthetic_doubled = c("level_of_care", "sex", "primary_substance", "co_occurring"))

coef_rows <- list(); summ_rows <- list(); zph_rows <- list()
for (nm in names(fits)) {
  f <- fits[[nm]]
  s <- summary(f)$coefficients
  ci <- summary(f)$conf.int
  # term names as analysis.cox writes them: var[level] for factors, the name for numerics
  asg <- attr(model.matrix(f), "assign")
  labels <- attr(terms(f), "term.labels")
  term <- ifelse(labels[asg] %in% names(f$xlevels),
                 paste0(vars[[nm]][asg], "[", substring(rownames(s), nchar(labels[asg]) + 1), "]"),
                 vars[[nm]][asg])
  coef_rows[[nm]] <- data.frame(dataset = nm, term = term, coef = s[, "coef"], se = s[, "se(coef)"],
                                hr = ci[, "exp(coef)"], lower = ci[, "lower .95"], upper = ci[, "upper .95"],
                                z = s[, "z"], p = s[, "Pr(>|z|)"])
  summ_rows[[nm]] <- data.frame(dataset = nm, n = f$n, n_events = f$nevent, loglik = f$loglik[2],
                                loglik_null = f$loglik[1], concordance = concordance(f)$concordance,
                                iter = f$iter)
  z <- cox.zph(f)$table
  zph_rows[[nm]] <- data.frame(dataset = nm, term = c(vars[[nm]], "GLOBAL"), chisq = z[, "chisq"],
                               df = z[, "df"], p = z[, "p"])
}
options(digits = 15)
write.csv(do.call(rbind, coef_rows), file.path(out, "coef.csv"), row.names = FALSE)
write.csv(do.call(rbind, summ_rows), file.path(out, "summary.csv"), row.names = FALSE)
write.csv(do.call(rbind, zph_rows), file.path(out, "zph.csv"), row.names = FALSE)
print(do.call(rbind, summ_rows)); print(do.call(rbind, zph_rows))
cat("events/censored/death in synthetic:", table(syn_d$event), "\n")
