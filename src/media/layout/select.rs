//! Who gets a tile: include and exclude lists (ids, or display name
//! patterns with `*` and `?`), and whether participants without video do.

use super::{Camera, LayoutConfig, Member, Scene};

/// The members that get tiles, in join order.
pub(crate) fn members<'a, K>(config: &LayoutConfig, scene: &'a Scene<K>) -> Vec<&'a Member<K>> {
    scene
        .members
        .iter()
        .filter(|m| config.include.is_empty() || config.include.iter().any(|p| names(p, m)))
        .filter(|m| !config.exclude.iter().any(|p| names(p, m)))
        .filter(|m| config.audio_only || !matches!(m.camera, Camera::None) || m.screen.is_some())
        .collect()
}

/// `pattern` names `m`: its id exactly, or its display name.
pub fn names<K>(pattern: &str, m: &Member<K>) -> bool {
    pattern == m.id || glob(pattern, &m.name)
}

/// Case-insensitive match with `*` (any run) and `?` (one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Greedy with one backtrack point: linear enough for names.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_names() {
        assert!(glob("ali*", "Alice"));
        assert!(glob("*ce", "Alice"));
        assert!(glob("a?ice", "ALICE"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(!glob("bob", "bobby"));
        assert!(glob("Zoë*", "zoë k"));
    }

    fn member(id: &str, name: &str, camera: Camera<u32>) -> Member<u32> {
        Member {
            id: id.into(),
            name: name.into(),
            camera,
            screen: None,
        }
    }

    #[test]
    fn include_exclude_and_audio_only() {
        let scene = Scene {
            members: vec![
                member("p1", "Alice", Camera::On(1)),
                member("p2", "Bob", Camera::Off),
                member("p3", "Recorder bot", Camera::None),
                member("p4", "Alan", Camera::On(4)),
            ],
            ..Scene::default()
        };
        let ids = |config: &LayoutConfig| -> Vec<String> {
            members(config, &scene)
                .iter()
                .map(|m| m.id.clone())
                .collect()
        };
        assert_eq!(ids(&LayoutConfig::default()), ["p1", "p2", "p4"]);
        let all = LayoutConfig {
            audio_only: true,
            ..LayoutConfig::default()
        };
        assert_eq!(ids(&all), ["p1", "p2", "p3", "p4"]);
        let some = LayoutConfig {
            include: vec!["al*".into(), "p2".into()],
            exclude: vec!["alan".into()],
            ..LayoutConfig::default()
        };
        assert_eq!(ids(&some), ["p1", "p2"]);
    }
}
