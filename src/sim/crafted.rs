//! A crafted population: every user plays one known role, so a test knows
//! exactly which findings reconcile must raise. Roles occupy consecutive
//! index ranges in registration order (oldest first), as the generated
//! population does.

use chrono::{Months, NaiveDateTime, TimeDelta};

use super::population::User;
use super::render;

/// What a crafted user is there to provoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A paid 12-month contract, current, consistent: no finding.
    Plain,
    /// As plain, but `contract_notes` names the 6-month packet.
    NotesMismatch,
    /// Pairs of plain users, the second listing the first's email.
    Duplicate,
    /// A 1-month contract that lapsed about two weeks ago, still ACTIVE.
    ExpiredButActive,
    /// A trial that ended ten days ago, INACTIVE.
    TrialExpired,
    /// A trial that ends in three days.
    TrialExpiring,
}

/// How many users of each role; `Duplicate` counts pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CraftedPopulation {
    /// Users without any finding.
    pub plain: u32,
    /// Users whose notes disagree with their packet.
    pub notes_mismatch: u32,
    /// Pairs of accounts sharing one email.
    pub duplicate_pairs: u32,
    /// Lapsed but ACTIVE users.
    pub expired_but_active: u32,
    /// Ended, inactive trials.
    pub trial_expired: u32,
    /// Trials ending within three days.
    pub trial_expiring: u32,
}

impl CraftedPopulation {
    /// Roles in index order, with how many users each takes.
    fn ranges(&self) -> [(Role, u32); 6] {
        [
            (Role::Plain, self.plain),
            (Role::NotesMismatch, self.notes_mismatch),
            (Role::Duplicate, self.duplicate_pairs * 2),
            (Role::ExpiredButActive, self.expired_but_active),
            (Role::TrialExpired, self.trial_expired),
            (Role::TrialExpiring, self.trial_expiring),
        ]
    }

    /// Users in the population.
    pub fn users(&self) -> u32 {
        self.ranges().iter().map(|(_, n)| n).sum()
    }

    /// The registration ids of every user of `role`, in index order.
    pub fn ids(&self, role: Role) -> Vec<String> {
        let mut start = 0;
        for (candidate, count) in self.ranges() {
            if candidate == role {
                return (start..start + count)
                    .map(render::registration_id)
                    .collect();
            }
            start += count;
        }
        Vec::new()
    }

    /// The role and the position within it of the user at `index`.
    fn role_of(&self, index: u32) -> (Role, u32) {
        let mut start = 0;
        for (role, count) in self.ranges() {
            if index < start + count {
                return (role, index - start);
            }
            start += count;
        }
        (Role::Plain, index)
    }

    /// The user at `index`, as of `now` (naive WIB).
    pub(super) fn user(&self, index: u32, now: NaiveDateTime) -> User {
        let (role, position) = self.role_of(index);
        // A minute apart, so registration order is listing order.
        let nudge = TimeDelta::minutes(i64::from(index));
        let days_ago = |days: i64| now - TimeDelta::days(days) + nudge;
        let mut user = User {
            index,
            email_index: index,
            grosir: index.is_multiple_of(3),
            registered: days_ago(100),
            packet: 4,
            notes: 4,
            expiry: now,
            active: true,
            prefix: (index % 8) as u8,
            word: (index % 16) as u8,
            street: (index % 12) as u8,
            house: 1 + (index % 200) as u16,
            city: (index % 12) as u8,
            cabangs: 1,
        };
        let months =
            |m: u32, from: NaiveDateTime| from.checked_add_months(Months::new(m)).unwrap_or(from);
        match role {
            Role::Plain => {}
            Role::NotesMismatch => user.notes = 3,
            Role::Duplicate if position % 2 == 1 => user.email_index = index - 1,
            Role::Duplicate => {}
            Role::ExpiredButActive => {
                user.registered = days_ago(45);
                (user.packet, user.notes) = (1, 1);
            }
            Role::TrialExpired => {
                user.registered = days_ago(40);
                (user.packet, user.notes, user.active) = (0, 0, false);
            }
            Role::TrialExpiring => {
                user.registered = days_ago(27);
                (user.packet, user.notes) = (0, 0);
            }
        }
        user.expiry = match user.packet {
            0 => user.registered + TimeDelta::days(30),
            1 => months(1, user.registered),
            _ => months(12, user.registered),
        };
        user
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn each_role_gets_its_range_and_its_dates() {
        let plan = CraftedPopulation {
            plain: 2,
            notes_mismatch: 1,
            duplicate_pairs: 1,
            expired_but_active: 1,
            trial_expired: 1,
            trial_expiring: 2,
        };
        let now = NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        assert_eq!(plan.users(), 9);
        assert_eq!(plan.ids(Role::TrialExpiring), ["ELK100007", "ELK100008"]);
        let users: Vec<User> = (0..9).map(|i| plan.user(i, now)).collect();
        assert!(users.windows(2).all(|w| w[0].registered <= w[1].registered));
        assert_eq!(
            users[4].email_index, 3,
            "the second of a pair reuses the first's email"
        );
        assert!(users[5].active && users[5].expiry < now);
        assert!(!users[6].active && users[6].expiry < now - TimeDelta::days(9));
        assert!(users[7].expiry > now && users[7].expiry < now + TimeDelta::days(4));
        assert_ne!(users[2].notes, users[2].packet);
    }
}
