fn main() {
    print!("{}\n=====\n{}", xuncha_domain::authz::matrix_markdown(), xuncha_domain::authz::roles_markdown());
}
