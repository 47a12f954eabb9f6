# `cmake --install`: headers under include/nnlab/, the library, nnlab-config.cmake with the
# imported target nnlab::nnlab, and nnlab.pc for pkg-config.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

foreach(header ${NNLAB_PUBLIC_HEADERS} ${NNLAB_PUBLIC_FRAGMENTS})
  get_filename_component(dir ${header} DIRECTORY)
  install(FILES nnlab/${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nnlab/${dir})
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/include/nnlab/config.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nnlab)

install(TARGETS nnlab EXPORT nnlab-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT nnlab-targets NAMESPACE nnlab:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nnlab)

configure_package_config_file(cmake/nnlab-config.cmake.in ${PROJECT_BINARY_DIR}/nnlab-config.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nnlab)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nnlab-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/nnlab-config.cmake ${PROJECT_BINARY_DIR}/nnlab-config-version.cmake
        cmake/nnlab-sim-kernels.cmake DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nnlab)

# pkg-config: a static library lists what it links in Libs.private (OpenMP's runtime as the
# compiler found it: gomp for GCC, omp for clang).
set(private_libs -lz -lboost_context ${CMAKE_THREAD_LIBS_INIT})
foreach(lib ${OpenMP_CXX_LIB_NAMES})
  list(APPEND private_libs -l${lib})
endforeach()
list(JOIN private_libs " " NNLAB_PC_PRIVATE_LIBS)
if(NNLAB_HAVE_CUDA)
  string(APPEND NNLAB_PC_PRIVATE_LIBS " -L${CUDAToolkit_LIBRARY_DIR} -lcudart")
endif()
if(NNLAB_HAVE_CUDNN)
  string(APPEND NNLAB_PC_PRIVATE_LIBS " -lcublas ${CUDNN_LIBRARY}")
endif()
if(NNLAB_HAVE_MPI)
  foreach(lib ${MPI_CXX_LIBRARIES})
    string(APPEND NNLAB_PC_PRIVATE_LIBS " ${lib}")
  endforeach()
endif()
if(NNLAB_HAVE_NCCL)
  string(APPEND NNLAB_PC_PRIVATE_LIBS " ${NCCL_LIBRARY}")
endif()
configure_file(cmake/nnlab.pc.in ${PROJECT_BINARY_DIR}/nnlab.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/nnlab.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
