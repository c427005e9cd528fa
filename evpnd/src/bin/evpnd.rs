fn main() -> anyhow::Result<()> {
    anyhow::bail!("evpnd: the BGP speaker is not built yet; see README.md")
}
